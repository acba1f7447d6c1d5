"""Every error response follows {"errors": [{"message", "field"?}]} (DESIGN §3)."""

from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.contracts import ApiModel, Price
from ticketing.common.errors import (
    BadRequestError,
    ConflictError,
    CustomError,
    DatabaseConnectionError,
    FieldError,
    NotAuthorizedError,
    NotFoundError,
    RequestValidationError,
)
from ticketing.common.http_errors import install_error_handlers
from ticketing.testkit.http import assert_refused


class NewThing(ApiModel):
    title: str
    price: Price
    owner_id: UUID


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: NewThing) -> dict[str, str]:
        return {"title": body.title}

    @app.get("/things/{thing_id}")
    async def read(thing_id: UUID) -> dict[str, str]:
        raise NotFoundError()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    @app.get("/reserved")
    async def reserved() -> None:
        raise BadRequestError("Cannot edit a reserved ticket")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            BadRequestError("Ticket is already reserved"),
            400,
            [{"message": "Ticket is already reserved"}],
        ),
        (
            FieldError("price", "Price must be greater than 0"),
            400,
            [{"message": "Price must be greater than 0", "field": "price"}],
        ),
        (
            RequestValidationError(
                [
                    {"message": "Title is required", "field": "title"},
                    {"message": "Price is required", "field": "price"},
                ]
            ),
            400,
            [
                {"message": "Title is required", "field": "title"},
                {"message": "Price is required", "field": "price"},
            ],
        ),
        (NotAuthorizedError(), 401, [{"message": "Not authorized"}]),
        (NotFoundError(), 404, [{"message": "Not found"}]),
        (ConflictError(), 409, [{"message": "Conflict"}]),
        (DatabaseConnectionError(), 503, [{"message": "Error connecting to the database"}]),
    ],
)
def test_each_error_class_serialises_to_the_contract_shape(
    error: CustomError, status: int, body: list[dict[str, str]]
) -> None:
    assert error.status_code == status
    assert error.serialize_errors() == body


async def test_a_custom_error_is_rendered_with_its_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/reserved")

    assert_refused(response, 400, "Cannot edit a reserved ticket")


async def test_a_framework_validation_error_becomes_a_400_naming_each_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/things", json={"price": 0, "ownerId": "not-a-uuid"})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"message": "Title is required", "field": "title"},
            {"message": "Price must be greater than 0", "field": "price"},
            {"message": "OwnerId must be a valid id", "field": "ownerId"},
        ]
    }


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("10", "Price must be a number"),
        (True, "Price must be a number"),
        (-1, "Price must be greater than 0"),
        (10.001, "Price must have at most 2 decimals"),
    ],
)
async def test_a_price_must_be_a_positive_number_with_two_decimals(
    client: httpx.AsyncClient, price: object, message: str
) -> None:
    body = {"title": "x", "price": price, "ownerId": "00000000-0000-0000-0000-000000000001"}

    response = await client.post("/things", json=body)

    assert_refused(response, 400, message, field="price")


def test_a_price_keeps_its_exact_value() -> None:
    thing = NewThing.model_validate({"title": "x", "price": 19.99, "ownerId": str(UUID(int=1))})

    assert thing.price == Decimal("19.99")
    assert thing.to_json()["price"] == 19.99


async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b"{nope", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Request body is not valid JSON"


async def test_a_malformed_id_in_the_path_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/things/not-a-uuid")

    assert_refused(response, 404, "Not found")


async def test_an_unknown_route_is_a_404_and_a_wrong_method_a_405(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/nowhere")
    wrong_method = await client.delete("/things")

    assert (missing.status_code, missing.json()) == (404, {"errors": [{"message": "Not found"}]})
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"errors": [{"message": "Method not allowed"}]}


async def test_an_unhandled_exception_is_a_500_that_leaks_nothing(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {"errors": [{"message": "Something went wrong"}]}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    # The log says what and where (for us), never the message: messages carry user input.
    [record] = [r for r in caplog.records if r.name == "ticketing.errors"]
    assert "RuntimeError" in record.getMessage()
    assert "in boom" in record.getMessage()
    assert "hunter2" not in caplog.text
    assert record.exc_info is None


async def test_a_body_over_the_limit_is_a_413_in_the_contract_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/things", content=b"[" + b"1," * (1024 * 1024) + b"1]")

    assert_refused(response, 413, "Request body is too large")


def test_the_openapi_document_promises_400s_in_the_contract_shape_not_422s() -> None:
    schema = build_app().openapi()

    create = schema["paths"]["/things"]["post"]["responses"]
    assert "422" not in create
    error_item = create["400"]["content"]["application/json"]["schema"]["properties"]["errors"]
    assert error_item["items"]["required"] == ["message"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": 7, "price": 1, "ownerId": str(UUID(int=1))}, "Title must be a string"),
        ({"title": "x", "price": 1e20, "ownerId": str(UUID(int=1))}, "Price is too large"),
    ],
)
async def test_common_mistakes_get_plain_messages(
    client: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    response = await client.post("/things", json=body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message


async def test_a_body_that_is_not_an_object_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json=[1, 2])

    assert_refused(response, 400, "Request body must be a JSON object")
