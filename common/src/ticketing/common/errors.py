"""The one error hierarchy of the platform: plain exceptions that know their status and body.

Every 4xx/5xx response of every service has the contract shape
``{"errors": [{"message": str, "field"?: str}]}``. Rules raise a typed ``CustomError`` where
they live (a domain module, a repository, a gateway); ``ticketing.common.http_errors`` is the
single place that turns them into HTTP responses. No framework is imported here, so a domain
module can raise these without loading FastAPI, Starlette or SQLAlchemy (``make lint`` checks).
"""

from __future__ import annotations

ErrorItem = dict[str, str]


class CustomError(Exception):
    """Base of every error a service raises on purpose; knows its status and its body."""

    status_code: int = 500
    default_message: str = "Something went wrong"
    headers: dict[str, str] | None = None  # e.g. Retry-After, sent with the error

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


class PayloadTooLargeError(CustomError):
    status_code = 413
    default_message = "Request body is too large"


class TooManyRequestsError(CustomError):
    """A 429 that tells the client when to come back (``Retry-After``, whole seconds)."""

    status_code = 429
    default_message = "Too many requests, try again later"

    def __init__(self, message: str | None = None, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.headers = {"Retry-After": str(self.retry_after_seconds)}


class DatabaseConnectionError(CustomError):
    status_code = 503
    default_message = "Error connecting to the database"


class ServiceUnavailableError(CustomError):
    status_code = 503
    default_message = "Service unavailable"
