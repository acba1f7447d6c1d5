"""Schemathesis hooks of the contract run (loaded from ``SCHEMATHESIS_HOOKS``): every error
response, documented or not, has the contract shape ``{"errors": [{"message", "field"?}]}``."""

from __future__ import annotations

from typing import Any

import schemathesis


def contract_error_problem(status_code: int, body: Any) -> str | None:
    """Why a response body breaks the contract's error shape, or None when it follows it."""
    if status_code < 400:
        return None
    if not isinstance(body, dict) or set(body) != {"errors"}:
        return 'the body is not {"errors": [...]}'
    errors = body["errors"]
    if not isinstance(errors, list) or not errors:
        return "errors is not a non-empty list"
    for item in errors:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            return "an error has no message"
        if set(item) - {"message", "field"}:
            return f"an error has other keys: {sorted(set(item) - {'message', 'field'})}"
        if "field" in item and not isinstance(item["field"], str):
            return "an error's field is not a string"
    return None


@schemathesis.check
def errors_in_contract_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} without a JSON body") from exc
    problem = contract_error_problem(response.status_code, body)
    if problem is not None:
        raise AssertionError(f"{response.status_code} breaks the error contract: {problem}")
    return None
