"""The event contract (DESIGN §4): one class per type, one wire format, one parse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from ticketing.common import events as ev
from ticketing.common.events import EVENT_TYPES, Event, UnknownEventError, parse_event

ID = UUID("00000000-0000-4000-8000-000000000001")
OTHER = UUID("00000000-0000-4000-8000-000000000002")
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CHANGED = ev.OrderChangedData(id=ID, version=1, ticket=ev.OrderTicketRef(id=OTHER))
NEW_ORDER = ev.OrderCreatedData(
    id=ID,
    status="created",
    user_id=OTHER,
    expires_at=AT,
    version=0,
    ticket=ev.OrderCreatedTicket(id=OTHER, price=Decimal("19.99")),
)

SAMPLES: list[Event] = [
    ev.TicketCreated(
        data=ev.TicketCreatedData(
            id=ID, title="Concert", price=Decimal("19.99"), user_id=OTHER, version=0
        )
    ),
    ev.TicketUpdated(
        data=ev.TicketUpdatedData(
            id=ID, title="Concert", price=Decimal("5"), user_id=OTHER, version=1, order_id=None
        )
    ),
    ev.OrderCreated(data=NEW_ORDER),
    ev.OrderCancelled(data=CHANGED),
    ev.OrderCompleted(data=CHANGED),
    ev.ExpirationComplete(data=ev.ExpirationCompleteData(order_id=ID)),
    ev.PaymentCreated(data=ev.PaymentCreatedData(id=ID, order_id=OTHER, stripe_id="pi_123")),
    ev.UserCreated(data=ev.UserCreatedData(id=ID, email="alice@example.com")),
    ev.UserBanned(data=ev.UserBannedData(user_id=ID)),
    ev.SessionRevoked(data=ev.SessionRevokedData(session_id=ID, user_id=OTHER, expires_at=AT)),
]


def test_every_event_of_the_design_has_one_class() -> None:
    assert set(EVENT_TYPES) == {
        "ticket.created", "ticket.updated", "order.created", "order.cancelled",
        "order.completed", "expiration.complete", "payment.created", "user.created",
        "user.banned", "session.revoked",
    }  # fmt: skip
    assert {type(sample) for sample in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("cls", EVENT_TYPES.values(), ids=list(EVENT_TYPES))
def test_the_class_type_is_the_one_its_instances_carry(cls: type[Event]) -> None:
    sample = next(s for s in SAMPLES if type(s) is cls)

    assert sample.type == cls.TYPE
    assert sample.subject("ticketing") == f"ticketing.{cls.TYPE}"


def test_the_wire_format_is_the_envelope_with_camel_case_data() -> None:
    data = NEW_ORDER.model_copy(update={"version": 3})
    event = ev.OrderCreated(id=ID, occurred_at=AT, data=data)

    wire = json.loads(event.to_bytes())

    assert wire == {
        "id": str(ID),
        "type": "order.created",
        "occurredAt": "2026-12-01T12:00:00Z",
        "data": {
            "id": str(ID),
            "status": "created",
            "userId": str(OTHER),
            "expiresAt": "2026-12-01T12:00:00Z",
            "version": 3,
            "ticket": {"id": str(OTHER), "price": 19.99},
        },
    }


@pytest.mark.parametrize("event", SAMPLES, ids=[s.type for s in SAMPLES])
def test_an_event_parses_back_into_its_own_class(event: Event) -> None:
    parsed = parse_event(event.to_bytes())

    assert type(parsed) is type(event)
    assert parsed == event


@pytest.mark.parametrize("event", SAMPLES, ids=[s.type for s in SAMPLES])
def test_the_exported_json_schema_describes_what_is_published(event: Event) -> None:
    schema = type(event).model_json_schema(by_alias=True, mode="serialization")
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    wire = json.loads(event.to_bytes())

    assert list(validator.iter_errors(wire)) == []
    assert schema["required"] == ["id", "type", "occurredAt", "data"]
    assert not validator.is_valid({**wire, "type": "ticket.deleted"})
    assert not validator.is_valid({key: value for key, value in wire.items() if key != "id"})


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"null",
        b"[]",
        b'{"id": "x"}',
        b'{"type": "ticket.deleted", "data": {}}',
        b'{"type": 5, "data": {}}',
    ],
)
def test_invalid_json_or_an_unknown_type_is_an_unknown_event(raw: bytes) -> None:
    with pytest.raises(UnknownEventError, match="Not a known event"):
        parse_event(raw)


def test_a_known_type_with_invalid_data_is_an_unknown_event_naming_the_field() -> None:
    wire = json.loads(SAMPLES[0].to_bytes())
    wire["data"]["price"] = "free"

    with pytest.raises(UnknownEventError, match=r"ticket\.created\.data\.price"):
        parse_event(json.dumps(wire).encode())


def test_an_event_class_whose_default_type_differs_from_its_literal_is_refused() -> None:
    with pytest.raises(TypeError, match="must be Literal"):

        class Mistyped(Event):
            type: Literal["ticket.created"] = "ticket.updated"  # type: ignore[assignment]
