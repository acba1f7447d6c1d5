"""Every integration event of the platform: the envelope and one data model per type.

Publisher and consumer import the same class, so a schema change is one edit here. The wire
format is DESIGN §4: ``{"id", "type", "occurredAt", "data"}``, subject ``<namespace>.<type>``.
``AnyEvent`` is the discriminated union of them all: ``parse_event`` reads a message's bytes
once, and ``make contracts`` exports each member as ``docs/contracts/events/<type>.schema.json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args
from uuid import UUID, uuid4

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from ticketing.common.contracts import ApiModel, OrderStatus, Price, utcnow


class Event(ApiModel):
    """The envelope. Subclasses pin ``type`` and ``data``; ``id`` doubles as Nats-Msg-Id.

    A subclass names its type once, as ``type: Literal["x.y"] = "x.y"`` (mypy refuses a
    default that is not the literal); ``TYPE`` is read from that field, for code that holds
    the class rather than an instance (subscriptions, subjects).
    """

    # What is published always has every envelope field, defaults included: the exported
    # schema says so, for consumers in other languages.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    TYPE: ClassVar[str]
    id: UUID = Field(default_factory=uuid4)
    type: str
    occurred_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields["type"]
        if get_args(field.annotation) != (field.default,):
            raise TypeError(f"{cls.__name__}.type must be Literal[name] with that name as default")
        cls.TYPE = field.default

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
    """A signed-out session: its token's jti and exp, refused until then."""

    session_id: UUID
    user_id: UUID
    expires_at: datetime


# --- events ---------------------------------------------------------------------------------


class TicketCreated(Event):
    """A ticket was listed for sale (tickets)."""

    type: Literal["ticket.created"] = "ticket.created"
    data: TicketCreatedData


class TicketUpdated(Event):
    """A ticket's title, price or reservation changed (tickets); version orders them."""

    type: Literal["ticket.updated"] = "ticket.updated"
    data: TicketUpdatedData


class OrderCreated(Event):
    """A buyer reserved a ticket until expiresAt (orders)."""

    type: Literal["order.created"] = "order.created"
    data: OrderCreatedData


class OrderCancelled(Event):
    """An order was cancelled or expired; its ticket is for sale again (orders)."""

    type: Literal["order.cancelled"] = "order.cancelled"
    data: OrderChangedData


class OrderCompleted(Event):
    """An order was paid; its ticket is sold (orders)."""

    type: Literal["order.completed"] = "order.completed"
    data: OrderChangedData


class ExpirationComplete(Event):
    """An order's reservation window (plus the payment grace) is over (expiration)."""

    type: Literal["expiration.complete"] = "expiration.complete"
    data: ExpirationCompleteData


class PaymentCreated(Event):
    """Stripe charged an order's amount; the order completes (payments)."""

    type: Literal["payment.created"] = "payment.created"
    data: PaymentCreatedData


class UserCreated(Event):
    """Someone signed up (auth)."""

    type: Literal["user.created"] = "user.created"
    data: UserCreatedData


class UserBanned(Event):
    """An admin banned a user: every service refuses their sessions (auth)."""

    type: Literal["user.banned"] = "user.banned"
    data: UserBannedData


class SessionRevoked(Event):
    """A user signed out: every service refuses that token until it expires (auth)."""

    type: Literal["session.revoked"] = "session.revoked"
    data: SessionRevokedData


AnyEvent = Annotated[
    TicketCreated
    | TicketUpdated
    | OrderCreated
    | OrderCancelled
    | OrderCompleted
    | ExpirationComplete
    | PaymentCreated
    | UserCreated
    | UserBanned
    | SessionRevoked,
    Field(discriminator="type"),
]
"""Any event of the platform, told apart by its ``type``."""

_ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)

EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in get_args(get_args(AnyEvent)[0])}
"""Every event class by its type name, in the union's order."""


class UnknownEventError(ValueError):
    """The bytes are not an event this code knows: a poison message, dead-lettered at once."""


def parse_event(raw: bytes) -> AnyEvent:
    """The event in ``raw``, parsed once into its own class (``type`` picks which)."""
    try:
        return _ANY_EVENT.validate_json(raw)
    except ValidationError as exc:
        raise UnknownEventError(f"Not a known event: {_reasons(exc)}") from exc


def _reasons(exc: ValidationError) -> str:
    """``ticket.created.data.price: Field required; …``: short enough for a dead letter."""
    errors = exc.errors(include_url=False, include_input=False)
    reasons = [
        ".".join(map(str, e["loc"])) + ": " + e["msg"] if e["loc"] else e["msg"] for e in errors
    ]
    return "; ".join(reasons[:5]) + ("; …" if len(reasons) > 5 else "")
