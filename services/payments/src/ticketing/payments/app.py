"""The payments service, assembled: what it serves, what it consumes, what it holds open."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.payments import api, webhooks
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.listeners import SUBSCRIPTIONS
from ticketing.payments.refunds import refund_what_is_owed
from ticketing.payments.stripe_gateway import PaymentsRuntime, StripeGateway


@asynccontextmanager
async def stripe_client(runtime: PaymentsRuntime) -> AsyncIterator[None]:
    """The gateway's HTTP connections, closed when the service stops."""
    try:
        yield
    finally:
        await runtime.context.close()


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()  # from the environment
    return create_service_app(
        ServiceDefinition(
            name="payments",
            settings=settings,
            context=StripeGateway(settings),
            routers=[api.router, webhooks.router],
            subscriptions=SUBSCRIPTIONS,
            background=[refund_what_is_owed],
            resources=[stripe_client],
        )
    )
