"""Tickets routes (DESIGN §3): list, show, sell and edit tickets."""

from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm.exc import StaleDataError

from ticketing.common import pagination
from ticketing.common.auth import RequiredUser
from ticketing.common.contracts import TicketBody
from ticketing.common.errors import ConflictError
from ticketing.common.openapi_errors import error_responses
from ticketing.common.service import ReaderDep, UnitOfWorkDep
from ticketing.common.uow import UnitOfWork
from ticketing.tickets import domain, repository
from ticketing.tickets.models import Ticket
from ticketing.tickets.schemas import TicketIn, ticket_created, ticket_updated

router = APIRouter(prefix="/api/tickets", tags=["tickets"])

CHANGED_CONCURRENTLY = "Ticket was changed concurrently, retry"


@router.post("", status_code=201, response_model=TicketBody)
async def create_ticket(body: TicketIn, user: RequiredUser, uow: UnitOfWorkDep) -> TicketBody:
    ticket = Ticket.listed(title=body.title, price=body.price, seller=user.id)
    repository.add(uow, ticket)
    uow.publish(ticket_created(ticket))
    await uow.commit()
    return TicketBody.model_validate(ticket)


@router.get("", response_model=list[TicketBody], responses=pagination.NEXT_PAGE_DOC)
async def list_tickets(
    request: Request,
    reader: ReaderDep,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
) -> Response:
    """Tickets for sale, newest first, a page at a time (``Link: <…>; rel="next"``)."""
    # The bodies come written by the database (``pagination.NewestFirst``) as ``TicketBody``
    # serialises them; shown as stored, each was validated when its ticket was sold or edited.
    page = await repository.available(reader, limit=limit, after=pagination.cursor_position(cursor))
    headers = {} if page.more is None else {"Link": pagination.next_link(request, page.more, limit)}
    return Response(page.json_array(), media_type="application/json", headers=headers)


@router.get("/{ticket_id}", response_model=TicketBody)
async def show_ticket(ticket_id: UUID, uow: UnitOfWorkDep) -> TicketBody:
    return TicketBody.model_validate(await repository.get(uow.session, ticket_id))


@router.put("/{ticket_id}", response_model=TicketBody, responses=error_responses(409))
async def update_ticket(
    ticket_id: UUID, body: TicketIn, user: RequiredUser, uow: UnitOfWorkDep
) -> TicketBody:
    ticket = await repository.get(uow.session, ticket_id)
    if domain.edit(ticket, title=body.title, price=body.price, by=user.id):
        uow.publish(ticket_updated(ticket))
        await commit_checked(uow)
    return TicketBody.model_validate(ticket)


async def commit_checked(uow: UnitOfWork) -> None:
    """Commit a version-checked change; losing the race to another change is a 409, so the
    client retries on the new state instead of silently overwriting it."""
    try:
        await uow.commit()
    except StaleDataError as exc:
        raise ConflictError(CHANGED_CONCURRENTLY) from exc
