"""The orders service, assembled: what it serves, what it listens to, what it runs."""

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.orders.api import router
from ticketing.orders.config import OrdersSettings
from ticketing.orders.listeners import subscriptions
from ticketing.orders.sweep import sweep_overdue_orders


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()  # from the environment
    return create_service_app(
        ServiceDefinition(
            name="orders",
            settings=settings,
            context=None,
            routers=[router],
            subscriptions=subscriptions(settings),
            background=[sweep_overdue_orders],
        )
    )
