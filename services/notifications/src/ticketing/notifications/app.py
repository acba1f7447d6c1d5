"""The notifications worker, assembled: what it consumes, what it runs, what it serves.

It is built with ``create_service_app`` like the HTTP services, for what that gives a worker
with a database: migrations at start-up, the durable consumer with idempotency records, the
supervised delivery loop, ``/healthz`` and ``/readyz`` for the probes, and a clean stop. It
serves no other route and the Ingress sends it nothing. Run it with
``uvicorn --factory ticketing.notifications.app:create_app``.
"""

from fastapi import FastAPI

from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.delivery import deliver_mail
from ticketing.notifications.listeners import subscriptions
from ticketing.notifications.metrics import MailMetrics
from ticketing.notifications.outgoing import Outgoing


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()  # from the environment
    return create_service_app(
        ServiceDefinition(
            name="notifications",
            settings=settings,
            context=MailMetrics(),
            subscriptions=subscriptions(Outgoing(settings)),
            background=[deliver_mail],
        )
    )
