"""What tickets looks like from outside: request/response bodies and the events it publishes."""

from typing import Annotated

from pydantic import StringConstraints

from ticketing.common.contracts import ApiModel, Price
from ticketing.common.events import (
    TicketCreated,
    TicketCreatedData,
    TicketUpdated,
    TicketUpdatedData,
)
from ticketing.tickets.models import TITLE_MAX_LENGTH, Ticket

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH)
]


class TicketIn(ApiModel):
    title: Title
    price: Price


def ticket_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(data=TicketCreatedData.model_validate(ticket))


def ticket_updated(ticket: Ticket) -> TicketUpdated:
    return TicketUpdated(data=TicketUpdatedData.model_validate(ticket))
