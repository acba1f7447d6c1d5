"""contract_double: tickets, orders, payments and query as DESIGN §3 describes them, in memory.

It stands in for those services in the client's tests (auth is the real service). It answers
only what the client's pages use, with the contract's bodies, status codes and error shape,
and knows the caller from the ``session`` cookie exactly as the real services do. Its own
OpenAPI document (routes, the statuses each declares, the body fields it reads) is checked
against the services' committed ones (``test_contract_double``), and it never answers a status
that document does not declare (``declared_answers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from client_testing.declared_answers import OnlyDeclaredAnswers
from ticketing.common import pagination
from ticketing.common.auth import SESSION_COOKIE, CurrentUser, TokenVerifier
from ticketing.common.contracts import ApiModel, utcnow
from ticketing.common.errors import (
    BadRequestError,
    FieldError,
    NotAuthorizedError,
    NotFoundError,
    RequestValidationError,
)
from ticketing.common.http_errors import install_error_handlers
from ticketing.common.openapi_errors import error_responses

DECLINED = "Your card was declined."
THREE_D_SECURE = "tok_threeDSecure2Required"
BANK_PAGE = "http://bank.test/3ds"
AUTHENTICATION_FAILED = "We are unable to authenticate your payment method."
STANDS_IN_FOR = ("tickets", "orders", "payments", "query")

SIGNED_IN = error_responses(401)
PAYMENT_ANSWERS = {202: {"description": "The card needs authentication"}, **SIGNED_IN}


class SellBody(ApiModel):
    """Checked by the route itself, with the real service's messages."""

    title: Any = None
    price: Any = None


class OrderBody(ApiModel):
    ticket_id: UUID


class PaymentBody(ApiModel):
    order_id: UUID
    token: Any = None


class AuthenticatedBody(ApiModel):
    order_id: UUID


@dataclass
class DoubleTicket:
    id: UUID
    title: str
    price: Decimal
    user_id: UUID
    version: int = 0
    order_id: UUID | None = None
    sold: bool = False
    listed_at: datetime = field(default_factory=utcnow)

    def position(self) -> pagination.Position:
        return pagination.Position(self.listed_at, self.id)

    def body(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "title": self.title,
            "price": float(self.price),
            "userId": str(self.user_id),
            "version": self.version,
            "orderId": str(self.order_id) if self.order_id else None,
        }

    def listing(self) -> dict[str, Any]:
        status = "sold" if self.sold else "reserved" if self.order_id else "available"
        return {**self.body(), "status": status, "updatedAt": utcnow().isoformat()}


@dataclass
class DoubleOrder:
    id: UUID
    user_id: UUID
    ticket: DoubleTicket
    expires_at: datetime
    status: str = "created"
    version: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "userId": str(self.user_id),
            "status": self.status,
            "expiresAt": self.expires_at.isoformat(),
            "version": self.version,
            "ticket": {
                "id": str(self.ticket.id),
                "title": self.ticket.title,
                "price": float(self.ticket.price),
            },
        }


@dataclass
class ContractDouble:
    public_key_pem: str
    expiration_window: timedelta = timedelta(minutes=15)
    tickets: dict[UUID, DoubleTicket] = field(default_factory=dict)
    orders: dict[UUID, DoubleOrder] = field(default_factory=dict)
    # 3-D Secure per order: "pending", then what the buyer did on the bank's page
    authentications: dict[UUID, str] = field(default_factory=dict)

    def seed_ticket(self, seller: UUID, title: str = "Concert", price: str = "25") -> DoubleTicket:
        ticket = DoubleTicket(id=uuid4(), title=title, price=Decimal(price), user_id=seller)
        self.tickets[ticket.id] = ticket
        return ticket

    def seed_order(
        self, buyer: UUID, ticket: DoubleTicket, *, expires_in: timedelta
    ) -> DoubleOrder:
        order = DoubleOrder(
            id=uuid4(), user_id=buyer, ticket=ticket, expires_at=utcnow() + expires_in
        )
        self.orders[order.id] = order
        ticket.order_id = order.id
        return order

    def app(self) -> FastAPI:
        app = FastAPI()
        install_error_handlers(app)
        app.add_middleware(OnlyDeclaredAnswers, document_of=app)
        verifier = TokenVerifier(self.public_key_pem)

        def caller(request: Request) -> CurrentUser:
            user = verifier.verify(request.cookies.get(SESSION_COOKIE))
            if user is None:
                raise NotAuthorizedError()
            return user

        def ticket_of(ticket_id: UUID) -> DoubleTicket:
            if ticket_id not in self.tickets:
                raise NotFoundError()
            return self.tickets[ticket_id]

        def order_of(request: Request, order_id: UUID) -> DoubleOrder:
            user = caller(request)
            order = self.orders.get(order_id)
            if order is None:
                raise NotFoundError()
            if order.user_id != user.id:
                raise NotAuthorizedError()
            return order

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/api/tickets", status_code=201, responses=SIGNED_IN)
        async def sell(request: Request, body: SellBody) -> dict[str, Any]:
            user = caller(request)
            title, price = str(body.title or "").strip(), body.price
            errors = []
            if not title:
                errors.append({"message": "Title must not be empty", "field": "title"})
            if isinstance(price, bool) or not isinstance(price, int | float):
                errors.append({"message": "Price must be a number", "field": "price"})
            elif price <= 0:
                errors.append({"message": "Price must be greater than 0", "field": "price"})
            if errors:
                raise RequestValidationError(errors)
            ticket = self.seed_ticket(user.id, title, str(price))
            return ticket.body()

        @app.get("/api/tickets/{ticket_id}")
        async def show_ticket(ticket_id: UUID) -> dict[str, Any]:
            return ticket_of(ticket_id).body()

        @app.get("/api/query/tickets")
        async def listings(
            status: str | None = None, limit: int = 50, cursor: str | None = None
        ) -> Any:
            after = pagination.cursor_position(cursor)
            newest_first = sorted(self.tickets.values(), key=DoubleTicket.position, reverse=True)
            rows = [
                t
                for t in newest_first
                if status in (None, t.listing()["status"])
                and (after is None or t.position() < after)
            ]
            page, more = pagination.split_page(rows, limit, DoubleTicket.position)
            following = None if more is None else pagination.encode_cursor(more)
            return {"items": [t.listing() for t in page], "limit": limit, "next": following}

        @app.get("/api/query/tickets/{ticket_id}")
        async def listing(ticket_id: UUID) -> dict[str, Any]:
            return ticket_of(ticket_id).listing()

        @app.post("/api/orders", status_code=201, responses=SIGNED_IN)
        async def place_order(request: Request, body: OrderBody) -> dict[str, Any]:
            user = caller(request)
            ticket = ticket_of(body.ticket_id)
            if ticket.order_id is not None:
                raise BadRequestError("Ticket is already reserved")
            return self.seed_order(user.id, ticket, expires_in=self.expiration_window).body()

        @app.get("/api/orders", responses=SIGNED_IN)
        async def my_orders(request: Request) -> list[dict[str, Any]]:
            user = caller(request)
            return [o.body() for o in self.orders.values() if o.user_id == user.id]

        @app.get("/api/orders/{order_id}", responses=SIGNED_IN)
        async def show_order(request: Request, order_id: UUID) -> dict[str, Any]:
            return order_of(request, order_id).body()

        @app.delete("/api/orders/{order_id}", status_code=204, responses=SIGNED_IN)
        async def cancel_order(request: Request, order_id: UUID) -> Response:
            order = order_of(request, order_id)
            order.status, order.version = "cancelled", order.version + 1
            order.ticket.order_id = None
            return Response(status_code=204)

        def paid(order: DoubleOrder) -> dict[str, str]:
            order.status, order.version = "complete", order.version + 1
            order.ticket.sold = True
            return {"id": str(uuid4())}

        @app.post("/api/payments", status_code=201, response_model=None, responses=PAYMENT_ANSWERS)
        async def pay(request: Request, body: PaymentBody) -> dict[str, str] | JSONResponse:
            order = order_of(request, body.order_id)
            if not body.token:
                raise FieldError("token", "Token must not be empty")
            if order.status == "cancelled":
                raise BadRequestError("Cannot pay for a cancelled order")
            if body.token == "tok_chargeDeclined":
                raise BadRequestError(DECLINED)
            if body.token == THREE_D_SECURE:
                self.authentications[order.id] = "pending"
                return JSONResponse(
                    status_code=202,
                    content={"status": "requires_action", "nextActionUrl": BANK_PAGE},
                )
            return paid(order)

        @app.post(
            "/api/payments/authenticated",
            status_code=201,
            response_model=None,
            responses=PAYMENT_ANSWERS,
        )
        async def authenticated(
            request: Request, body: AuthenticatedBody
        ) -> dict[str, str] | JSONResponse:
            order = order_of(request, body.order_id)
            outcome = self.authentications.get(order.id)
            if outcome == "failed":
                self.authentications.pop(order.id)
                raise BadRequestError(AUTHENTICATION_FAILED)
            if outcome == "pending":
                return JSONResponse(
                    status_code=202,
                    content={"status": "requires_action", "nextActionUrl": BANK_PAGE},
                )
            if outcome != "succeeded":
                raise BadRequestError("This order has no payment awaiting authentication")
            self.authentications.pop(order.id)
            return paid(order)

        return app
