"""The payments service, assembled: what it serves, what it consumes, what it holds open."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, ServiceRuntime, create_service_app
from ticketing.payments import api, webhooks
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.listeners import SUBSCRIPTIONS
from ticketing.payments.refunds import refund_what_is_owed
from ticketing.payments.stripe_gateway import StripeGateway


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()  # from the environment
    gateway = StripeGateway(settings)

    @asynccontextmanager
    async def stripe_client(runtime: ServiceRuntime) -> AsyncIterator[StripeGateway]:
        try:
            yield gateway
        finally:
            await gateway.close()

    return create_service_app(
        ServiceDefinition(
            name="payments",
            settings=settings,
            migrations_dir=Path(__file__).parent / "migrations",
            routers=[api.router, webhooks.router],
            subscriptions=SUBSCRIPTIONS,
            background=[refund_what_is_owed],
            resources=[stripe_client],
            extras={"stripe": gateway},
        )
    )
