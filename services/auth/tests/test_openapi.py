"""Auth's OpenAPI document names every status its routes answer, each error in the contract
shape, so a contract tester finds nothing undocumented."""

import httpx
import pytest

ERROR_SHAPE_REQUIRES = ["errors"]


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/users/signup", {"201", "400", "413"}),
        ("post", "/api/users/signin", {"200", "400", "413", "429"}),
        ("post", "/api/users/signout", {"200"}),
        ("get", "/api/users/currentuser", {"200"}),
        ("post", "/api/users/{user_id}/ban", {"204", "401", "404"}),
    ],
)
async def test_every_status_of_a_route_is_documented(
    client: httpx.AsyncClient, method: str, path: str, statuses: set[str]
) -> None:
    document = (await client.get("/openapi.json")).json()

    responses = document["paths"][path][method]["responses"]

    assert statuses <= set(responses)
    for status, response in responses.items():
        if int(status) >= 400:
            schema = response["content"]["application/json"]["schema"]
            assert schema["required"] == ERROR_SHAPE_REQUIRES, status
