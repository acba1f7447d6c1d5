"""Tickets for sale, selling one, a ticket's page and buying it (which places an order)."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.client import domain
from ticketing.client.api_client import UpstreamError
from ticketing.client.csrf import VerifiedForm
from ticketing.client.forms import FormErrors, idempotency_key, price_for_api, text
from ticketing.client.rendering import page
from ticketing.client.schemas import User
from ticketing.client.session import Api, SessionCookie, SignedIn, Viewer
from ticketing.common import pagination
from ticketing.common.errors import FieldError, NotFoundError

router = APIRouter(tags=["ticket pages"])

SELL_FIELDS = ("title", "price")
NOT_YET_ON_SALE = "This ticket is not on sale yet. Try again in a moment."


@router.get("/")
async def tickets_for_sale(
    request: Request,
    user: Viewer,
    api: Api,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    """A page of tickets for sale, newest first; ``?cursor=`` (from the "Older" link) is where
    a later page starts, and one that is not ours is a page that does not exist."""
    try:
        pagination.cursor_position(cursor)
    except FieldError as exc:
        raise NotFoundError("Page not found") from exc
    size = request.app.state.settings.page_size
    listing = await api.tickets_for_sale(limit=size, cursor=cursor)
    return page(
        request,
        "tickets/index.html",
        user=user,
        tickets=listing.items,
        is_first_page=cursor is None,
        next_cursor=listing.next,
    )


def _sell_form(
    request: Request,
    user: User,
    *,
    title: str = "",
    price: str = "",
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "tickets/new.html",
        status_code=status_code,
        user=user,
        title=title,
        price=price,
        errors=errors or FormErrors(),
    )


@router.get("/tickets/new")
async def sell_ticket_page(request: Request, user: SignedIn) -> Response:
    return _sell_form(request, user)


@router.post("/tickets/new")
async def sell_ticket(
    request: Request, form: VerifiedForm, user: SignedIn, api: Api, session: SessionCookie
) -> Response:
    title, price = text(form, "title"), text(form, "price")
    try:
        ticket = await api.sell_ticket(session, title=title, price=price_for_api(price))
    except UpstreamError as exc:
        if exc.status_code != 400:
            raise
        errors = FormErrors.of(exc.errors, SELL_FIELDS)
        return _sell_form(request, user, title=title, price=price, errors=errors, status_code=400)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


async def _ticket_page(
    request: Request,
    ticket_id: UUID,
    user: User | None,
    api: Api,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    ticket, listing = await asyncio.gather(api.ticket(ticket_id), api.listing(ticket_id))
    status = domain.ticket_status(ticket, listing)
    return page(
        request,
        "tickets/show.html",
        status_code=status_code,
        user=user,
        ticket=ticket,
        status=status,
        is_seller=domain.is_seller(ticket, user),
        can_purchase=domain.can_purchase(status, ticket, user),
        idempotency_key=uuid4(),
        errors=errors or FormErrors(),
    )


@router.get("/tickets/{ticket_id}")
async def show_ticket(request: Request, ticket_id: UUID, user: Viewer, api: Api) -> Response:
    return await _ticket_page(request, ticket_id, user, api)


@router.post("/tickets/{ticket_id}/purchase")
async def purchase_ticket(
    request: Request,
    ticket_id: UUID,
    form: VerifiedForm,
    user: SignedIn,
    api: Api,
    session: SessionCookie,
) -> Response:
    try:
        order = await api.place_order(session, ticket_id, idempotency_key=idempotency_key(form))
    except UpstreamError as exc:
        if exc.status_code == 404:
            # Orders has not heard of a ticket that tickets shows yet (events take a moment);
            # a ticket unknown everywhere becomes this page's own 404.
            problems, status_code = [{"message": NOT_YET_ON_SALE}], 409
        elif exc.status_code == 400:
            problems, status_code = exc.errors, 400
        else:
            raise
        errors = FormErrors.of(problems, ())
        return await _ticket_page(
            request, ticket_id, user, api, errors=errors, status_code=status_code
        )
    return RedirectResponse(f"/orders/{order.id}", status_code=303)
