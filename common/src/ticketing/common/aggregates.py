"""Which aggregates an event belongs to: what must stay in order, and what may run in parallel.

DESIGN §4 orders events per aggregate (its ``version``), never across aggregates. So the relay
may publish, and a consumer may handle, events of different aggregates at once, as long as the
events of one aggregate keep their order. An event's *keys* name its aggregates. Two events
sharing a key keep their order; two sharing none may overtake each other.

An order event carries two keys, its order and its ticket. Its ticket's other events (a
reservation by another order, a price change) stay in line with it, and so do the order's
payment and expiration. A seller's tickets share no key, so a busy seller is not a bottleneck.
An event this module does not know shares a key with every event of its type: safe, if slow.

Keys are read from the raw JSON (the wire format, camelCase), because the relay holds outbox
payloads and the consumer needs them before it knows whether it can parse the message at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Keys = frozenset[str]
NO_KEYS: Keys = frozenset()


def _ticket(data: dict[str, Any]) -> list[object]:
    return [f"ticket:{data['id']}"]


def _order(data: dict[str, Any]) -> list[object]:
    return [f"order:{data['id']}", f"ticket:{data['ticket']['id']}"]


def _of(kind: str, field: str) -> Callable[[dict[str, Any]], list[object]]:
    return lambda data: [f"{kind}:{data[field]}"]


_KEYS_OF: dict[str, Callable[[dict[str, Any]], list[object]]] = {
    "ticket.created": _ticket,
    "ticket.updated": _ticket,
    "order.created": _order,
    "order.cancelled": _order,
    "order.completed": _order,
    "expiration.complete": _of("order", "orderId"),
    "payment.created": _of("order", "orderId"),
    "user.created": _of("user", "id"),
    "user.banned": _of("user", "userId"),
    "session.revoked": _of("user", "userId"),
}

KEYED_TYPES = frozenset(_KEYS_OF)
"""The event types keyed by their aggregates (any other is keyed by its type)."""


def aggregate_keys(payload: bytes) -> Keys:
    """The keys of the event in ``payload``. None for bytes that are no event at all: such a
    message is dead-lettered or left for another replica, and nothing depends on its order.
    An unknown type, or a known one missing its ids, is keyed by its type alone."""
    try:
        envelope = json.loads(payload)
    except ValueError:
        return NO_KEYS
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        return NO_KEYS
    kind = envelope["type"]
    keys_of = _KEYS_OF.get(kind)
    try:
        if keys_of is not None:
            return frozenset(str(key) for key in keys_of(envelope["data"]))
    except (KeyError, TypeError):
        pass
    return frozenset({f"type:{kind}"})
