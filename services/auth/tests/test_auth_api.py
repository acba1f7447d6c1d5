"""The auth routes of DESIGN §3, from the outside."""

from datetime import timedelta
from uuid import uuid4

import httpx
import jwt
import pytest

from ticketing.common.auth import CurrentUser, KeyPair, generate_key_pair, sign_session_token
from ticketing.testkit.http import assert_refused

PASSWORD = "correct horse battery"


def new_email() -> str:
    return f"buyer-{uuid4().hex[:8]}@example.com"


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/users/signup", json={"email": email, "password": password})


async def current_user(client: httpx.AsyncClient) -> object:
    response = await client.get("/api/users/currentuser")
    assert response.status_code == 200
    return response.json()["currentUser"]


async def test_signup_creates_a_user_and_signs_them_in(client: httpx.AsyncClient) -> None:
    email = new_email()

    response = await sign_up(client, email)

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email
    cookie = response.headers["set-cookie"].lower()
    assert "session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert await current_user(client) == {"id": body["id"], "email": email}


@pytest.mark.parametrize("email", ["not-an-email", "", "a@", "@example.com"])
async def test_signup_rejects_an_invalid_email(client: httpx.AsyncClient, email: str) -> None:
    response = await sign_up(client, email)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "Email must be a valid email address", "field": "email"}]
    }


@pytest.mark.parametrize("password", ["short", "x" * 7, "x" * 129])
async def test_signup_rejects_a_password_of_the_wrong_length(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await sign_up(client, new_email(), password)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "Password must be between 8 and 128 characters", "field": "password"}
    ]


async def test_signup_requires_both_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users/signup", json={})

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"email", "password"}


async def test_signup_refuses_an_email_in_use(client: httpx.AsyncClient) -> None:
    email = new_email()
    await sign_up(client, email)

    response = await sign_up(client, email)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Email in use", "field": "email"}]}


async def test_email_uniqueness_ignores_case(client: httpx.AsyncClient) -> None:
    email = new_email()
    await sign_up(client, email)

    response = await sign_up(client, email.upper())

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Email in use"


async def test_signup_stores_the_email_normalised(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()

    response = await sign_up(client, f"  {email.upper()} ")

    assert response.json()["email"] == email


async def test_signin_with_the_right_password(client: httpx.AsyncClient) -> None:
    email = new_email()
    user_id = (await sign_up(client, email)).json()["id"]
    client.cookies.clear()

    response = await client.post(
        "/api/users/signin", json={"email": email.upper(), "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.json() == {"id": user_id, "email": email}
    assert await current_user(client) == {"id": user_id, "email": email}


async def test_signin_with_a_wrong_password_and_an_unknown_email_look_the_same(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()
    await sign_up(client, email)
    client.cookies.clear()

    wrong_password = await client.post(
        "/api/users/signin", json={"email": email, "password": "wrong password"}
    )
    unknown_email = await client.post(
        "/api/users/signin", json={"email": new_email(), "password": PASSWORD}
    )

    assert wrong_password.status_code == unknown_email.status_code == 400
    assert (
        wrong_password.json()
        == unknown_email.json()
        == {"errors": [{"message": "Invalid credentials"}]}
    )
    assert "set-cookie" not in wrong_password.headers
    assert await current_user(client) is None


async def test_signout_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await sign_up(client, new_email())

    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert response.json() == {}
    assert (
        'session=""' in response.headers["set-cookie"]
        or "max-age=0" in response.headers["set-cookie"].lower()
    )
    assert await current_user(client) is None


async def test_currentuser_without_a_cookie_is_null(client: httpx.AsyncClient) -> None:
    assert await current_user(client) is None


async def test_currentuser_with_a_tampered_token_is_null(
    client: httpx.AsyncClient, jwt_keys: KeyPair
) -> None:
    token = sign_session_token(CurrentUser(id=uuid4(), email="a@example.com"), jwt_keys.private_pem)
    header, _payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        b'{"sub": "%s", "email": "evil@example.com", "exp": 9999999999}' % str(uuid4()).encode()
    ).decode()
    client.cookies.set("session", f"{header}.{forged_payload}.{signature}")

    assert await current_user(client) is None


async def test_currentuser_with_a_token_signed_by_another_key_is_null(
    client: httpx.AsyncClient,
) -> None:
    stranger = generate_key_pair()
    client.cookies.set(
        "session", sign_session_token(CurrentUser(uuid4(), "a@example.com"), stranger.private_pem)
    )

    assert await current_user(client) is None


async def test_currentuser_with_an_expired_token_is_null(
    client: httpx.AsyncClient, jwt_keys: KeyPair
) -> None:
    user = CurrentUser(id=uuid4(), email="a@example.com")
    client.cookies.set(
        "session", sign_session_token(user, jwt_keys.private_pem, ttl=timedelta(seconds=-5))
    )

    assert await current_user(client) is None


async def test_currentuser_with_an_alg_none_token_is_null(client: httpx.AsyncClient) -> None:
    claims = {"sub": str(uuid4()), "email": "a@example.com", "exp": 9999999999}
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    client.cookies.set("session", unsigned)

    assert await current_user(client) is None


async def test_currentuser_with_a_valid_token_from_the_key_pair(
    client: httpx.AsyncClient, jwt_keys: KeyPair
) -> None:
    user = CurrentUser(id=uuid4(), email="a@example.com")
    client.cookies.set("session", sign_session_token(user, jwt_keys.private_pem))

    assert await current_user(client) == {"id": str(user.id), "email": user.email}


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_unknown_route_is_a_404_in_the_contract_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/nope")

    assert_refused(response, 404, "Not found")
