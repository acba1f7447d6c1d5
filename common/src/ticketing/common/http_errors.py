"""The HTTP side of the error hierarchy: every error response of an app in the contract shape.

``install_error_handlers(app)`` is the single place that turns ``errors.CustomError``,
FastAPI's validation errors, unknown routes and unexpected exceptions into
``{"errors": [{"message": str, "field"?: str}]}``. The same call puts the body limit in front
of the app (``http_limits``) and makes the OpenAPI document list every error status an
operation can answer (``openapi_errors``). The exceptions themselves live, framework-free, in
``ticketing.common.errors``.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing.common.asgi import HttpMiddleware
from ticketing.common.errors import CustomError, ErrorItem, NotFoundError
from ticketing.common.failures import is_transient
from ticketing.common.http_limits import (
    MAX_BODY_BYTES,
    TOO_LARGE,
    AdmissionLimitMiddleware,
    BodyLimitMiddleware,
    BodyTooLargeError,
)
from ticketing.common.openapi_errors import document_error_shape

logger = logging.getLogger("ticketing.errors")


def error_response(
    status_code: int, errors: list[ErrorItem], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"errors": errors}, headers=headers)


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
    if kind == "string_too_long" or (kind == "too_long" and isinstance(error.get("input"), str)):
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
    return error_response(exc.status_code, exc.serialize_errors(), exc.headers)


async def _on_too_large(_: Request, exc: Exception) -> JSONResponse:
    # Raised by the body limit into whatever reads the body (a form, a dependency).
    assert isinstance(exc, BodyTooLargeError)
    return error_response(413, [{"message": TOO_LARGE}])


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FastAPIValidationError)
    # A malformed id in a path means "no such resource", not "bad input".
    if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
        return error_response(404, [{"message": NotFoundError.default_message}])
    return error_response(400, validation_errors(exc))


HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed", 413: TOO_LARGE}


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    message = HTTP_MESSAGES.get(exc.status_code) or detail or "Request failed"
    response = error_response(exc.status_code, [{"message": message}])
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


_LOGGED = "ticketing.logged_error"


def describe_unexpected(exc: BaseException) -> str:
    """What went wrong and where, without the exception's message: messages carry user input
    (SQL parameters, the bytes that did not encode), and logs must not hold passwords or tokens.
    The types (causes included) and the innermost frames are enough to find the line."""
    causes: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 4:
        causes.append(f"{type(cause).__module__}.{type(cause).__qualname__}")
        cause = cause.__cause__ or cause.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    where = " < ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames))
    return f"{' caused by '.join(causes)} at {where or '?'}"


def _is_body_too_large(exc: BaseException) -> bool:
    """A body limit error, maybe wrapped in a group by a task group (``BaseHTTPMiddleware``
    reads the body in one) on its way out."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_body_too_large(inner) for inner in exc.exceptions)
    return isinstance(exc, BodyTooLargeError)


UNAVAILABLE = "The service is temporarily unavailable, try again shortly"


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request.scope[_LOGGED] = exc
    if _is_body_too_large(exc):
        return error_response(413, [{"message": TOO_LARGE}])
    if is_transient(exc):
        # The database (or NATS, Redis) is down or restarting: not a bug, and retrying works.
        logger.warning(
            "%s %s: a dependency is unavailable: %s",
            request.method,
            request.url.path,
            describe_unexpected(exc),
        )
        response = error_response(503, [{"message": UNAVAILABLE}])
        response.headers["Retry-After"] = "5"
        return response
    logger.error(
        "Unhandled error on %s %s: %s", request.method, request.url.path, describe_unexpected(exc)
    )
    return error_response(500, [{"message": "Something went wrong"}])


class _HandledErrorsEndHere(HttpMiddleware):
    """Starlette's outermost layer answers an unexpected error with our handler (which logs it
    once) and then re-raises it "so the server can log it": uvicorn would log the whole
    traceback a second time. This layer, outside it, ends an error the handler has answered."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope.get(_LOGGED) is not exc:
                raise


def install_error_handlers(
    app: FastAPI, *, max_body_bytes: int = MAX_BODY_BYTES, max_in_flight: int | None = None
) -> None:
    """Make every error response of ``app`` follow the contract shape, refuse bodies over
    ``max_body_bytes`` (outermost, before anything reads them), answer 503 + Retry-After past
    ``max_in_flight`` requests at once (admission control; None: no limit) and log each
    unexpected error once, in one line."""
    app.add_exception_handler(CustomError, _on_custom_error)
    app.add_exception_handler(BodyTooLargeError, _on_too_large)
    app.add_exception_handler(FastAPIValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
    build_stack = app.build_middleware_stack

    def build_limited_stack() -> ASGIApp:
        limited = BodyLimitMiddleware(_HandledErrorsEndHere(build_stack()), max_body_bytes)
        if max_in_flight is None:
            return limited
        return AdmissionLimitMiddleware(limited, max_in_flight)

    app.build_middleware_stack = build_limited_stack  # type: ignore[method-assign]
    document_error_shape(app)
