"""Text people type: no control characters, no direction overrides, titles that show something
(DESIGN §3 "Bad input"), refused with a 400 naming the field."""

from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI
from pydantic import Field

from ticketing.common.contracts import ApiModel, PlainText, VisibleText
from ticketing.common.http_errors import install_error_handlers
from ticketing.testkit.http import assert_refused


class Listing(ApiModel):
    title: Annotated[VisibleText, Field(max_length=20)]
    contact_email: PlainText = "seller@example.com"


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/listings")
    async def create(body: Listing) -> dict[str, str]:
        return {"title": body.title, "contactEmail": body.contact_email}

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app())
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.parametrize(
    "title",
    [
        "Con\x00cert",  # NUL: PostgreSQL text cannot hold it (it was a 500)
        "\x1b[31mRed\x1b[0m",  # ANSI escapes paint log readers' terminals
        "line\nbreak",
        "del\x7f",
        "\u202etxt.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "exe.txt"
        "\u2066isolate\u2069",
    ],
)
async def test_a_title_with_control_or_bidi_characters_is_refused(
    client: httpx.AsyncClient, title: str
) -> None:
    response = await client.post("/listings", json={"title": title})

    assert_refused(response, 400, "Title must not contain control characters", field="title")


@pytest.mark.parametrize("title", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2800 ", "\u3164"])
async def test_a_title_with_no_visible_character_is_refused(
    client: httpx.AsyncClient, title: str
) -> None:
    response = await client.post("/listings", json={"title": title})

    assert_refused(response, 400, "Title must contain a visible character", field="title")


async def test_an_empty_or_blank_title_is_still_called_empty(client: httpx.AsyncClient) -> None:
    response = await client.post("/listings", json={"title": "   "})

    assert_refused(response, 400, "Title must not be empty", field="title")


async def test_a_plain_text_field_refuses_control_characters_too(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/listings", json={"title": "Opera", "contactEmail": "a\x00@b.c"})

    message = "ContactEmail must not contain control characters"
    assert_refused(response, 400, message, field="contactEmail")


async def test_ordinary_text_in_any_script_is_kept_trimmed(client: httpx.AsyncClient) -> None:
    response = await client.post("/listings", json={"title": "  Café 🎟 東京 שלום  "})

    assert response.status_code == 200
    assert response.json()["title"] == "Café 🎟 東京 שלום"


async def test_a_title_too_long_after_validation_names_its_limit(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/listings", json={"title": "x" * 21})

    assert_refused(response, 400, "Title must be at most 20 characters", field="title")


def test_the_schema_tells_generators_which_characters_are_refused() -> None:
    schema = Listing.model_json_schema(by_alias=True)["properties"]["title"]

    assert schema["maxLength"] == 20
    assert schema["minLength"] == 1
    assert "\\x00-\\x1f" in schema["pattern"]
