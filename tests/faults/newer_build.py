"""A newer build of notifications, deployed beside the running one, as a rolling update does.

The newer release subscribes to one more event type than the running code: it also reacts to
``expiration.complete`` (say, to tell the buyer their reservation is about to go). Everything
else is this checkout's notifications service, so the two builds share the durable consumer,
the database and every other subscription; only their subscription sets differ, which is what
a rolling update with a changed subscription set is.

Started with ``uvicorn --factory faults.newer_build:create_app``, with the environment of a
running replica, beside ``make dev``'s processes (``DevPlatform.run_beside``) until the suite
stops the platform: the rollout stays "half done" (two replicas of each build) to the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from faults.devplatform import DevPlatform
from ticketing.common.events import ExpirationComplete
from ticketing.common.service import ServiceDefinition, create_service_app
from ticketing.common.uow import UnitOfWork
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.delivery import deliver_mail
from ticketing.notifications.listeners import subscriptions
from ticketing.notifications.metrics import MailMetrics
from ticketing.notifications.outgoing import Outgoing

NEW_EVENT = ExpirationComplete
READY_TIMEOUT = 90


async def on_expiration_complete(event: ExpirationComplete, uow: UnitOfWork) -> None:
    """What the newer release does with it is beside the point here; that it gets every one
    (recorded in ``processed_events`` by the consumer, as every handled event is) is the point."""


def create_app() -> FastAPI:
    settings = NotificationsSettings()  # from the environment of a running replica
    return create_service_app(
        ServiceDefinition(
            name="notifications",
            settings=settings,
            context=MailMetrics(),
            subscriptions={
                **subscriptions(Outgoing(settings)),
                NEW_EVENT: on_expiration_complete,
            },
            background=[deliver_mail],
        )
    )


def start_newer_replica(dev: DevPlatform, port: int) -> subprocess.Popen[bytes]:
    """One replica of the newer build on ``port``, with notifications' environment, beside
    make dev's replicas until the platform stops."""
    environ = dev.environ_of("notifications")
    tests_dir = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [tests_dir, environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "uvicorn", "--factory", "faults.newer_build:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    return dev.run_beside(command, {**environ, "PYTHONPATH": path})


async def until_ready(process: subprocess.Popen[bytes], port: int) -> float:
    """Seconds until the replica answers ``/readyz`` (its durable widened, its consumer on)."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            assert process.poll() is None, f"the newer build exited with {process.returncode}"
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            assert time.monotonic() - started < READY_TIMEOUT, "the newer build is not ready"
            await asyncio.sleep(0.25)
