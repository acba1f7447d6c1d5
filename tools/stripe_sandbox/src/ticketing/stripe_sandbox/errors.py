"""Stripe's error model: the one exception the sandbox raises and the body it renders to.

Stripe answers every failure with ``{"error": {"type", "message", "code"?, "param"?, ...}}`` and
an HTTP status that the SDK maps to an exception class: 400/404 become ``InvalidRequestError``
(or ``IdempotencyError`` when ``type`` is ``idempotency_error``), 401 ``AuthenticationError``
and 402 ``CardError``. Rules anywhere in the package raise ``StripeApiError``; ``app.py`` is
the only place that turns it into an HTTP response.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]

DOCS_URL = "https://stripe.com/docs/error-codes"


class StripeApiError(Exception):
    """A failure Stripe would report, with its HTTP status and the fields of its error body."""

    def __init__(
        self,
        http_status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: JsonDict | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra: JsonDict = dict(extra or {})

    def error_object(self) -> JsonDict:
        """The value of ``error`` in the body (also what ``last_payment_error`` holds)."""
        error: JsonDict = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS_URL}/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return error

    def to_body(self) -> JsonDict:
        return {"error": self.error_object()}


def invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    http_status: int = 400,
) -> StripeApiError:
    return StripeApiError(http_status, "invalid_request_error", message, code=code, param=param)


def resource_missing(kind: str, object_id: str, *, param: str, http_status: int) -> StripeApiError:
    """Stripe's ``No such <kind>: '<id>'``: 404 for a missing URL id, 400 for a missing param."""
    return invalid_request(
        f"No such {kind}: '{object_id}'",
        param=param,
        code="resource_missing",
        http_status=http_status,
    )


def unexpected_state(message: str) -> StripeApiError:
    return invalid_request(message, code="payment_intent_unexpected_state")


def authentication_failed(message: str) -> StripeApiError:
    return StripeApiError(401, "invalid_request_error", message)


def idempotency_error(message: str) -> StripeApiError:
    return StripeApiError(400, "idempotency_error", message)
