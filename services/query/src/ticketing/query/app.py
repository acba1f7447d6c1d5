"""The query service, assembled: the read API, fed by every event of the platform, and the
periodic snapshot of it that rebuilds start from."""

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.query.api import router
from ticketing.query.config import QuerySettings
from ticketing.query.listeners import SUBSCRIPTIONS
from ticketing.query.snapshot import snapshot_periodically


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="query",  # also its durable consumer (snapshot.DURABLE)
            settings=settings or QuerySettings(),  # from the environment
            context=None,
            routers=[router],
            subscriptions=SUBSCRIPTIONS,
            background=[snapshot_periodically],  # so a rebuild needs only recent events
        )
    )
