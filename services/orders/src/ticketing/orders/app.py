"""The orders service, assembled: what it serves, what it listens to, what it runs."""

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.orders.api import router
from ticketing.orders.config import OrdersSettings
from ticketing.orders.listeners import subscriptions
from ticketing.orders.payments_in_flight import PaymentsInFlight
from ticketing.orders.sweep import sweep_overdue_orders


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()  # from the environment
    payments = PaymentsInFlight(durable="orders")  # the consumer's durable: the service's name
    return create_service_app(
        ServiceDefinition(
            name="orders",
            settings=settings,
            context=payments,
            routers=[router],
            subscriptions=subscriptions(settings, payments),
            background=[sweep_overdue_orders],
            resources=[lambda runtime: runtime.context.watching(runtime.bus)],
        )
    )
