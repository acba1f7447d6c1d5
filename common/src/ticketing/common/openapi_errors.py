"""The OpenAPI document tells every error status an operation can answer, in the contract shape.

FastAPI documents a 422 that ``install_error_handlers`` turns into a 400, and nothing of the
401/404/413/500 every service answers. ``document_error_shape`` fixes the document once for
every app, from what each operation is:

- every operation: 500 and 503 (a dependency down);
- parameters or a body: 400; a body: 413; a path parameter: 404 (a malformed or unknown id);
- a route that depends on ``require_user``: 401; an ``Idempotency-Key`` header: 409 (in flight);
- whatever a route declares itself with ``responses=error_responses(409, 429)``.

A contract tester (schemathesis) then finds no undocumented status code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

DESCRIPTIONS = {
    400: "Invalid input (each error names its field)",
    401: "Signed out, or not allowed to do this",
    404: "Not found",
    409: "Conflict: the same request is in flight, or the resource changed; retry",
    413: "Request body is too large",
    429: "Too many requests; see Retry-After",
    500: "Something went wrong",
    503: "A dependency is unavailable",
}

ERROR_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}, "field": {"type": "string"}},
            },
        }
    },
}

ERROR_RESPONSE_SCHEMA: dict[str, Any] = {
    "description": "Error",
    "content": {"application/json": {"schema": ERROR_SHAPE}},
}


def error_response_doc(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": ERROR_SHAPE}},
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For ``responses=`` of a route: the error statuses only this route answers."""
    return {status: error_response_doc(status) for status in statuses}


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def _route_statuses(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    """Statuses known from the route's dependencies, not visible in the document itself."""
    # Imported here: ``auth`` imports ``errors``, which imports this module.
    from ticketing.common.auth import require_user

    found: dict[tuple[str, str], set[int]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            statuses = {401} if _depends_on(route.dependant, require_user) else set()
            for method in route.methods or ():
                found[(route.path_format, method.lower())] = statuses
    return found


def _operation_statuses(operation: dict[str, Any]) -> set[int]:
    statuses = {500, 503}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(400)
    if "requestBody" in operation:
        statuses.add(413)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if any(p.get("in") == "header" and p["name"].lower() == "idempotency-key" for p in parameters):
        statuses.add(409)
    return statuses


def _complete(operation: dict[str, Any], statuses: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None:
        statuses.add(400)
    for code in sorted(statuses):
        responses.setdefault(str(code), error_response_doc(code))
    for status, response in responses.items():
        # A route's own ``responses={409: {...}}`` gets the contract shape too.
        if status.isdigit() and int(status) >= 400 and "content" not in response:
            response["content"] = {"application/json": {"schema": ERROR_SHAPE}}


def document_error_shape(app: FastAPI) -> None:
    """Make ``app.openapi()`` list every error an operation answers, in the contract shape."""
    build_default_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_default_schema()
            by_route = _route_statuses(app)
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    statuses = _operation_statuses(operation) | by_route.get((path, method), set())
                    _complete(operation, statuses)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
