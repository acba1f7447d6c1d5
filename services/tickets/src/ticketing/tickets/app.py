"""The tickets service, assembled: what it serves and what it listens to."""

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.tickets.api import router
from ticketing.tickets.config import TicketsSettings
from ticketing.tickets.listeners import SUBSCRIPTIONS


def create_app(settings: TicketsSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="tickets",
            settings=settings or TicketsSettings(),  # from the environment
            context=None,
            routers=[router],
            subscriptions=SUBSCRIPTIONS,
        )
    )
