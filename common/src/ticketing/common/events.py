"""Every integration event of the platform: the envelope and one data model per type.

Publisher and consumer import the same class, so a schema change is one edit here. The wire
format is DESIGN §4: ``{"id", "type", "occurredAt", "data"}``, subject ``<namespace>.<type>``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import Field

from ticketing.common.contracts import ApiModel, Price, utcnow

OrderStatus = Literal["created", "cancelled", "awaiting:payment", "complete"]


class Event(ApiModel):
    """The envelope. Subclasses pin ``type`` and ``data``; ``id`` doubles as Nats-Msg-Id."""

    TYPE: ClassVar[str]
    id: UUID = Field(default_factory=uuid4)
    type: str
    occurred_at: datetime = Field(default_factory=utcnow)

    def subject(self, namespace: str) -> str:
        return f"{namespace}.{self.type}"

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


# --- data schemas ---------------------------------------------------------------------------


class TicketCreatedData(ApiModel):
    id: UUID
    title: str
    price: Price
    user_id: UUID
    version: int


class TicketUpdatedData(TicketCreatedData):
    order_id: UUID | None


class OrderTicketRef(ApiModel):
    id: UUID


class OrderCreatedTicket(ApiModel):
    id: UUID
    price: Price


class OrderCreatedData(ApiModel):
    id: UUID
    status: OrderStatus
    user_id: UUID
    expires_at: datetime
    version: int
    ticket: OrderCreatedTicket


class OrderChangedData(ApiModel):
    id: UUID
    version: int
    ticket: OrderTicketRef


class ExpirationCompleteData(ApiModel):
    order_id: UUID


class PaymentCreatedData(ApiModel):
    id: UUID
    order_id: UUID
    stripe_id: str


class UserCreatedData(ApiModel):
    id: UUID
    email: str


class UserBannedData(ApiModel):
    user_id: UUID


class SessionRevokedData(ApiModel):
    """A signed-out session: its token's ``jti`` and ``exp``, refused until then."""

    session_id: UUID
    user_id: UUID
    expires_at: datetime


# --- events ---------------------------------------------------------------------------------


class TicketCreated(Event):
    TYPE = "ticket.created"
    type: Literal["ticket.created"] = "ticket.created"
    data: TicketCreatedData


class TicketUpdated(Event):
    TYPE = "ticket.updated"
    type: Literal["ticket.updated"] = "ticket.updated"
    data: TicketUpdatedData


class OrderCreated(Event):
    TYPE = "order.created"
    type: Literal["order.created"] = "order.created"
    data: OrderCreatedData


class OrderCancelled(Event):
    TYPE = "order.cancelled"
    type: Literal["order.cancelled"] = "order.cancelled"
    data: OrderChangedData


class OrderCompleted(Event):
    TYPE = "order.completed"
    type: Literal["order.completed"] = "order.completed"
    data: OrderChangedData


class ExpirationComplete(Event):
    TYPE = "expiration.complete"
    type: Literal["expiration.complete"] = "expiration.complete"
    data: ExpirationCompleteData


class PaymentCreated(Event):
    TYPE = "payment.created"
    type: Literal["payment.created"] = "payment.created"
    data: PaymentCreatedData


class UserCreated(Event):
    TYPE = "user.created"
    type: Literal["user.created"] = "user.created"
    data: UserCreatedData


class UserBanned(Event):
    TYPE = "user.banned"
    type: Literal["user.banned"] = "user.banned"
    data: UserBannedData


class SessionRevoked(Event):
    TYPE = "session.revoked"
    type: Literal["session.revoked"] = "session.revoked"
    data: SessionRevokedData


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        TicketCreated,
        TicketUpdated,
        OrderCreated,
        OrderCancelled,
        OrderCompleted,
        ExpirationComplete,
        PaymentCreated,
        UserCreated,
        UserBanned,
        SessionRevoked,
    )
}


class UnknownEventError(ValueError):
    """The bytes are not an event this code knows: a poison message, dead-lettered at once."""


def parse_event(raw: bytes) -> Event:
    try:
        event_type = json.loads(raw)["type"]
        return EVENT_TYPES[event_type].model_validate_json(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise UnknownEventError(f"Not a known event: {exc}") from exc
