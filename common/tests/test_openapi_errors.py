"""The OpenAPI document lists every error status an operation answers, in the contract shape,
so that a contract tester finds no undocumented status code."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header

from ticketing.common.auth import RequiredUser
from ticketing.common.contracts import ApiModel
from ticketing.common.http_errors import install_error_handlers
from ticketing.common.openapi_errors import ERROR_SHAPE, error_responses


class ThingIn(ApiModel):
    name: str


class OrderIn(ApiModel):
    thing_id: UUID


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/things/{thing_id}")
    async def show(thing_id: UUID) -> dict[str, str]:
        return {}

    @app.post("/things", status_code=201)
    async def create(
        body: ThingIn,
        user: RequiredUser,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> dict[str, str]:
        return {}

    @app.post("/sessions", responses=error_responses(429))
    async def sign_in(body: ThingIn) -> dict[str, str]:
        return {}

    @app.post("/orders", status_code=201)
    async def order(body: OrderIn) -> dict[str, str]:
        return {}

    router = APIRouter(prefix="/api")

    @router.delete("/things/{thing_id}", responses={409: {"description": "Reserved"}})
    async def delete(thing_id: UUID, user: RequiredUser) -> None:
        return None

    app.include_router(router)
    return app


def statuses(schema: dict[str, Any], path: str, method: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_every_operation_documents_500_and_503_and_nothing_it_cannot_answer() -> None:
    schema = build_app().openapi()

    assert statuses(schema, "/health", "get") == {"200", "500", "503"}


def test_a_path_parameter_means_404_and_400() -> None:
    schema = build_app().openapi()

    assert {"400", "404"} <= statuses(schema, "/things/{thing_id}", "get")
    assert "401" not in statuses(schema, "/things/{thing_id}", "get")


def test_an_id_in_the_body_means_404_it_may_name_nothing() -> None:
    schema = build_app().openapi()

    assert "404" in statuses(schema, "/orders", "post")
    assert "404" not in statuses(schema, "/sessions", "post")


def test_a_signed_in_route_with_a_body_and_an_idempotency_key_documents_its_errors() -> None:
    schema = build_app().openapi()

    assert statuses(schema, "/things", "post") == {
        "201", "400", "401", "409", "413", "500", "503",
    }  # fmt: skip


def test_a_routes_own_statuses_are_kept_and_get_the_contract_shape() -> None:
    schema = build_app().openapi()

    sign_in = schema["paths"]["/sessions"]["post"]["responses"]
    delete = schema["paths"]["/api/things/{thing_id}"]["delete"]["responses"]
    assert sign_in["429"]["content"]["application/json"]["schema"] == ERROR_SHAPE
    assert delete["409"]["description"] == "Reserved"
    assert delete["409"]["content"]["application/json"]["schema"] == ERROR_SHAPE
    assert "401" in delete  # found through the included router


def test_every_error_response_has_the_contract_shape() -> None:
    schema = build_app().openapi()

    for path in schema["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == ERROR_SHAPE
