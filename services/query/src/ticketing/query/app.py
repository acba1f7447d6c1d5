"""The query service, assembled: the read API, fed by every event of the platform."""

from pathlib import Path

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.query.api import router
from ticketing.query.config import QuerySettings
from ticketing.query.listeners import SUBSCRIPTIONS


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="query",
            settings=settings or QuerySettings(),  # from the environment
            context=None,
            migrations_dir=Path(__file__).parent / "migrations",
            routers=[router],
            subscriptions=SUBSCRIPTIONS,
        )
    )
