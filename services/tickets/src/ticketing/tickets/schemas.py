"""What tickets looks like from outside: request/response bodies and the events it publishes."""

from typing import Annotated

from pydantic import Field

from ticketing.common.contracts import ApiModel, Price, VisibleText
from ticketing.common.events import (
    TicketCreated,
    TicketCreatedData,
    TicketUpdated,
    TicketUpdatedData,
)
from ticketing.tickets.models import TITLE_MAX_LENGTH, Ticket

Title = Annotated[VisibleText, Field(max_length=TITLE_MAX_LENGTH)]
"""Trimmed, visible, no control or direction-override characters (DESIGN §3 "Bad input")."""


class TicketIn(ApiModel):
    title: Title
    price: Price


def ticket_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(data=TicketCreatedData.model_validate(ticket))


def ticket_updated(ticket: Ticket) -> TicketUpdated:
    return TicketUpdated(data=TicketUpdatedData.model_validate(ticket))
