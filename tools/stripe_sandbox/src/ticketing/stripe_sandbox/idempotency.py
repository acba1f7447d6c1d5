"""Stripe's idempotent requests: recording POST outcomes by ``Idempotency-Key``, replaying them.

The rules mirror Stripe's: a key names one request. Sending it again with the same endpoint and
the same parameters replays the recorded response (same status, same body, header
``Idempotent-Replayed: true``) without doing anything new; sending it with other parameters or
to another endpoint is an ``idempotency_error``. Only outcomes of requests that began executing
are recorded: successes and card declines (402). Requests rejected by validation (400) or by
authentication (401) are not, so they may be corrected and retried under the same key.
Callers serialise ``lookup`` + execute + ``record`` under one lock, which is what makes
concurrent duplicates charge once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.stripe_sandbox.errors import idempotency_error, invalid_request
from ticketing.stripe_sandbox.params import ParamTree

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class RecordedResponse:
    status_code: int
    body: bytes
    request_id: str


@dataclass(frozen=True)
class _Entry:
    endpoint: str
    params: ParamTree
    response: RecordedResponse


def is_recorded_outcome(status_code: int) -> bool:
    return 200 <= status_code < 300 or status_code == 402


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, key: str, endpoint: str, params: ParamTree) -> RecordedResponse | None:
        """The recorded response for ``key``, ``None`` if unused; raises on a mismatched reuse."""
        if len(key) > MAX_KEY_LENGTH:
            raise invalid_request(
                f"Idempotency keys can be at most {MAX_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.endpoint != endpoint:
            raise idempotency_error(
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{entry.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request."
            )
        if entry.params != params:
            raise idempotency_error(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
        return entry.response

    def record(
        self, key: str, endpoint: str, params: ParamTree, response: RecordedResponse
    ) -> None:
        if is_recorded_outcome(response.status_code):
            self._entries[key] = _Entry(endpoint, params, response)
