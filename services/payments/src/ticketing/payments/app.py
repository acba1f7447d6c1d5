"""The payments service, assembled: what it serves, what it consumes, what it holds open."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.payments import api, webhooks
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.listeners import SUBSCRIPTIONS
from ticketing.payments.stripe_gateway import StripeGateway


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()  # from the environment
    gateway = StripeGateway(settings)
    app = create_service_app(
        ServiceDefinition(
            name="payments",
            settings=settings,
            migrations_dir=Path(__file__).parent / "migrations",
            routers=[api.router, webhooks.router],
            subscriptions=SUBSCRIPTIONS,
            extras={"stripe": gateway},
        )
    )
    _close_on_shutdown(app, gateway)
    return app


def _close_on_shutdown(app: FastAPI, gateway: StripeGateway) -> None:
    """Close Stripe's HTTP client after the common lifespan (common has no shutdown hook)."""
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with service_lifespan(app):
                yield
        finally:
            await gateway.close()

    app.router.lifespan_context = lifespan
