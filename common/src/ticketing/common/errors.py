"""The one error hierarchy of the platform and the handler that renders it.

Every 4xx/5xx response of every service has the contract shape
``{"errors": [{"message": str, "field"?: str}]}``. Rules raise a typed ``CustomError`` where
they live; ``install_error_handlers(app)`` is the single place that turns errors, FastAPI's
validation errors, unknown routes and unexpected exceptions into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("ticketing.errors")

ErrorItem = dict[str, str]


class CustomError(Exception):
    """Base of every error a service raises on purpose; knows its status and its body."""

    status_code: int = 500
    default_message: str = "Something went wrong"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def serialize_errors(self) -> list[ErrorItem]:
        return [{"message": self.message}]


class BadRequestError(CustomError):
    status_code = 400
    default_message = "Bad request"


class FieldError(BadRequestError):
    """A 400 about one named input field (the field is the JSON name the client sent)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def serialize_errors(self) -> list[ErrorItem]:
        return [{"message": self.message, "field": self.field}]


class RequestValidationError(BadRequestError):
    """A 400 listing every invalid field at once."""

    default_message = "Invalid request"

    def __init__(self, errors: list[ErrorItem]) -> None:
        super().__init__(errors[0]["message"] if errors else None)
        self.errors = errors

    def serialize_errors(self) -> list[ErrorItem]:
        return self.errors or [{"message": self.message}]


class NotAuthorizedError(CustomError):
    status_code = 401
    default_message = "Not authorized"


class ForbiddenError(CustomError):
    status_code = 403
    default_message = "Forbidden"


class NotFoundError(CustomError):
    status_code = 404
    default_message = "Not found"


class ConflictError(CustomError):
    status_code = 409
    default_message = "Conflict"


class DatabaseConnectionError(CustomError):
    status_code = 503
    default_message = "Error connecting to the database"


class ServiceUnavailableError(CustomError):
    status_code = 503
    default_message = "Service unavailable"


def error_response(status_code: int, errors: list[ErrorItem]) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"errors": errors})


def _field_name(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)]
    return ".".join(parts) or None


def _humanize(field: str | None, error: dict[str, Any]) -> str:
    label = (field or "Body").split(".")[-1]
    label = label[:1].upper() + label[1:]
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "missing":
        return f"{label} is required"
    if kind == "json_invalid":
        return "Request body is not valid JSON"
    if kind == "greater_than":
        return f"{label} must be greater than {ctx.get('gt')}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{label} must not be empty"
    if kind == "uuid_parsing" or kind == "uuid_type":
        return f"{label} must be a valid id"
    if kind == "decimal_max_places":
        return f"{label} must have at most {ctx.get('decimal_places')} decimals"
    if kind == "decimal_max_digits":
        return f"{label} is too large"
    if kind == "string_too_long":
        return f"{label} must be at most {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "less_than_equal", "less_than"):
        word = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(kind, "below")
        bound = ctx.get("ge", ctx.get("le", ctx.get("lt")))
        return f"{label} must be {word} {bound}"
    if kind in ("string_type", "str_type"):
        return f"{label} must be a string"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number"
    if kind in ("model_attributes_type", "dict_type", "model_type") and not field:
        return "Request body must be a JSON object"
    message = str(error.get("msg", "is invalid"))
    if kind == "value_error":
        # Our validators phrase the rule as a predicate: "must be a number".
        return f"{label} {message.removeprefix('Value error, ')}"
    return f"{label}: {message}" if field else message


def validation_errors(exc: FastAPIValidationError) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for error in exc.errors():
        field = _field_name(tuple(error.get("loc", ())))
        item: ErrorItem = {"message": _humanize(field, error)}
        if field:
            item["field"] = field
        items.append(item)
    return items


async def _on_custom_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CustomError)
    return error_response(exc.status_code, exc.serialize_errors())


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FastAPIValidationError)
    # A malformed id in a path means "no such resource", not "bad input".
    if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
        return error_response(404, [{"message": NotFoundError.default_message}])
    return error_response(400, validation_errors(exc))


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    detail = exc.detail if isinstance(exc.detail, str) else None
    message = messages.get(exc.status_code) or detail or "Request failed"
    response = error_response(exc.status_code, [{"message": message}])
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, [{"message": "Something went wrong"}])


def install_error_handlers(app: FastAPI) -> None:
    """Make every error response of ``app`` follow the contract shape."""
    app.add_exception_handler(CustomError, _on_custom_error)
    app.add_exception_handler(FastAPIValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
    document_error_shape(app)


ERROR_RESPONSE_SCHEMA: dict[str, Any] = {
    "description": "Error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["errors"],
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        },
                    }
                },
            }
        }
    },
}


def document_error_shape(app: FastAPI) -> None:
    """Make the OpenAPI document say what the service really answers: FastAPI documents a 422
    for invalid input, but ``install_error_handlers`` turns it into a 400 in the contract shape."""
    build_default_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_default_schema()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None:
                        responses.setdefault("400", ERROR_RESPONSE_SCHEMA)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
