"""The client's one way to the platform: the services' HTTP APIs over their internal URLs.

One ``httpx.AsyncClient`` for the app's lifetime, sending through reqwest's pool
(``upstream_transport``). Every call carries the browser's ``session``
cookie explicitly and the client never keeps cookies itself (its jar refuses them), so one
visitor's session can never leak into another visitor's request. Every call carries the page
request's ``X-Request-ID`` and trace context (``correlation``), so a purchase can be followed
from the page into every service (DESIGN §10). A service's 4xx/5xx becomes an
``UpstreamError`` carrying the service's own contract errors; an unreachable service a 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from uuid import UUID

import httpx
from fastapi import Request
from pydantic import TypeAdapter

from ticketing.client.config import UPSTREAMS, ClientSettings, Upstream
from ticketing.client.schemas import (
    AuthenticationRequired,
    CurrentUserBody,
    Order,
    Payment,
    Ticket,
    TicketPage,
    User,
)
from ticketing.client.upstream_transport import ReqwestTransport
from ticketing.common.auth import SESSION_COOKIE
from ticketing.common.correlation import outgoing_headers
from ticketing.common.errors import CustomError, ErrorItem, ServiceUnavailableError
from ticketing.common.tracing import instrument_client

logger = logging.getLogger("ticketing.client")

_ORDERS = TypeAdapter(list[Order])

Session = str | None
"""The browser's ``session`` cookie value, forwarded as is (None: signed out)."""

SetCookies = list[str]
"""``Set-Cookie`` header values of a service's answer, to relay to the browser."""


class UpstreamError(CustomError):
    """A service refused or failed: its status (5xx becomes 502) and its own errors."""

    def __init__(self, service: Upstream, status_code: int, errors: list[ErrorItem]) -> None:
        self.service = service
        self.status_code = status_code if status_code < 500 else 502
        self.errors = errors or [{"message": f"The {service} service could not answer"}]
        super().__init__(self.errors[0]["message"])

    @classmethod
    def from_response(cls, service: Upstream, response: httpx.Response) -> UpstreamError:
        try:
            errors = [
                {key: str(value) for key, value in item.items() if key in ("message", "field")}
                for item in response.json()["errors"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            errors = []
        return cls(service, response.status_code, [e for e in errors if "message" in e])

    def serialize_errors(self) -> list[ErrorItem]:
        return self.errors


def _refusing_cookie_jar() -> CookieJar:
    # No domain is allowed, so no cookie is ever stored nor sent by the jar.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class ApiClient:
    def __init__(
        self, settings: ClientSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._urls = {service: settings.upstream_url(service) for service in UPSTREAMS}
        self._http = httpx.AsyncClient(
            transport=transport or ReqwestTransport(settings.upstream_connections),
            timeout=settings.upstream_timeout_seconds,
            cookies=_refusing_cookie_jar(),
            follow_redirects=False,
        )
        instrument_client(self._http, "client")  # a client span per call, its traceparent sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        service: Upstream,
        method: str,
        path: str,
        *,
        session: Session = None,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = {**(headers or {}), **outgoing_headers()}
        sent["accept"] = "application/json"
        if session:
            sent["cookie"] = f"{SESSION_COOKIE}={session}"
        try:
            response = await self._http.request(
                method, self._urls[service] + path, json=json, params=params, headers=sent
            )
        except httpx.TransportError as exc:
            logger.warning("%s %s (%s service) failed: %r", method, path, service, exc)
            raise ServiceUnavailableError(f"The {service} service is not reachable") from exc
        if response.status_code >= 500:
            logger.warning(
                "%s %s (%s service) answered %s", method, path, service, response.status_code
            )
        if response.status_code >= 400:
            raise UpstreamError.from_response(service, response)
        return response

    async def check_health(self, service: Upstream) -> None:
        await self._call(service, "GET", "/healthz")

    # auth

    async def current_user(self, session: Session) -> User | None:
        if not session:
            return None
        response = await self._call("auth", "GET", "/api/users/currentuser", session=session)
        return CurrentUserBody.model_validate_json(response.content).current_user

    async def sign_up(self, email: str, password: str) -> SetCookies:
        credentials = {"email": email, "password": password}
        response = await self._call("auth", "POST", "/api/users/signup", json=credentials)
        return response.headers.get_list("set-cookie")

    async def sign_in(self, email: str, password: str) -> SetCookies:
        credentials = {"email": email, "password": password}
        response = await self._call("auth", "POST", "/api/users/signin", json=credentials)
        return response.headers.get_list("set-cookie")

    async def sign_out(self, session: Session) -> SetCookies:
        response = await self._call("auth", "POST", "/api/users/signout", session=session)
        return response.headers.get_list("set-cookie")

    # tickets and the read model

    async def tickets_for_sale(self, *, limit: int, cursor: str | None) -> TicketPage:
        """A page of available listings, newest first, from ``cursor`` (None: the first)."""
        params: dict[str, str | int] = {"status": "available", "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await self._call("query", "GET", "/api/query/tickets", params=params)
        return TicketPage.model_validate_json(response.content)

    async def ticket(self, ticket_id: UUID) -> Ticket:
        response = await self._call("tickets", "GET", f"/api/tickets/{ticket_id}")
        return Ticket.model_validate_json(response.content)

    async def listing(self, ticket_id: UUID) -> Ticket | None:
        """The read model's view (knows "sold"); None while it has not caught up yet."""
        try:
            response = await self._call("query", "GET", f"/api/query/tickets/{ticket_id}")
        except UpstreamError as exc:
            if exc.status_code == 404:
                return None
            raise
        return Ticket.model_validate_json(response.content)

    async def sell_ticket(self, session: Session, *, title: str, price: object) -> Ticket:
        body = {"title": title, "price": price}
        response = await self._call("tickets", "POST", "/api/tickets", session=session, json=body)
        return Ticket.model_validate_json(response.content)

    # orders and payments

    async def place_order(
        self, session: Session, ticket_id: UUID, *, idempotency_key: str | None
    ) -> Order:
        response = await self._call(
            "orders",
            "POST",
            "/api/orders",
            session=session,
            json={"ticketId": str(ticket_id)},
            headers=_idempotency(idempotency_key),
        )
        return Order.model_validate_json(response.content)

    async def my_orders(self, session: Session) -> list[Order]:
        response = await self._call("orders", "GET", "/api/orders", session=session)
        return _ORDERS.validate_json(response.content)

    async def order(self, session: Session, order_id: UUID) -> Order:
        response = await self._call("orders", "GET", f"/api/orders/{order_id}", session=session)
        return Order.model_validate_json(response.content)

    async def cancel_order(self, session: Session, order_id: UUID) -> None:
        await self._call("orders", "DELETE", f"/api/orders/{order_id}", session=session)

    async def pay(
        self, session: Session, order_id: UUID, token: str, *, idempotency_key: str | None
    ) -> Payment | AuthenticationRequired:
        response = await self._call(
            "payments",
            "POST",
            "/api/payments",
            session=session,
            json={"orderId": str(order_id), "token": token},
            headers=_idempotency(idempotency_key),
        )
        return _payment_outcome(response)

    async def finish_authentication(
        self, session: Session, order_id: UUID
    ) -> Payment | AuthenticationRequired:
        """The buyer is back from 3-D Secure: payments settles what Stripe says."""
        response = await self._call(
            "payments",
            "POST",
            "/api/payments/authenticated",
            session=session,
            json={"orderId": str(order_id)},
        )
        return _payment_outcome(response)


def _payment_outcome(response: httpx.Response) -> Payment | AuthenticationRequired:
    if response.status_code == 202:
        return AuthenticationRequired.model_validate_json(response.content)
    return Payment.model_validate_json(response.content)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"idempotency-key": key} if key else {}


async def get_api(request: Request) -> ApiClient:
    """A dependency, ``async`` so FastAPI does not hop to its thread pool to call it."""
    api: ApiClient = request.app.state.api
    return api
