"""The OpenAPI document tells every error status an operation can answer, in the contract shape.

FastAPI documents a 422 that ``install_error_handlers`` turns into a 400, and nothing of the
401/404/413/500 every service answers. ``document_error_shape`` fixes the document once for
every app, from what each operation is:

- every operation: 500 and 503 (a dependency down);
- parameters or a body: 400; a body (or a POST, PUT, PATCH): 413; an id in the path or the
  body: 404 (no such thing);
- a route that depends on ``require_user``: 401; an ``Idempotency-Key`` header: 409 (in flight);
- whatever a route declares itself with ``responses=error_responses(409, 429)``.

A contract tester (schemathesis) then finds no undocumented status code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from ticketing.common.auth import require_user

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
    found: dict[tuple[str, str], set[int]] = {}
    for route in iter_route_contexts(app.routes):  # included routers' routes too
        dependant = getattr(route, "dependant", None)
        if not isinstance(route.original_route, APIRoute) or not isinstance(dependant, Dependant):
            continue
        statuses = {401} if _depends_on(dependant, require_user) else set()
        for method in route.methods or ():
            found[(str(route.path_format), method.lower())] = statuses
    return found


def _resolved(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return found
    return schema


def _names_a_resource(operation: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether the JSON body holds an id (``format: uuid``), which may name nothing we know."""
    content = operation.get("requestBody", {}).get("content", {})
    body = _resolved(content.get("application/json", {}).get("schema", {}), document)
    for prop in body.get("properties", {}).values():
        options = [prop, *prop.get("anyOf", [])]
        if any(_resolved(option, document).get("format") == "uuid" for option in options):
            return True
    return False


def _operation_statuses(
    method: str, operation: dict[str, Any], document: dict[str, Any]
) -> set[int]:
    statuses = {500, 503}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(400)
    if "requestBody" in operation or method in ("post", "put", "patch"):
        statuses.add(413)  # refused before routing, even where the route reads the raw body
    if any(p.get("in") == "path" for p in parameters) or _names_a_resource(operation, document):
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
                    statuses = _operation_statuses(method, operation, schema)
                    statuses |= by_route.get((path, method), set())
                    _complete(operation, statuses)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
