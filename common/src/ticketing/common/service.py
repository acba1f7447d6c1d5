"""The composition root every service shares: one call builds a complete service app.

``create_service_app(ServiceDefinition(...))`` wires, in this order: error handlers, health
routes, the service's routers; and in the lifespan: the database (migrated to head), the bus,
the outbox relay, the event consumer and any background loops of the service. A service's own
``app.py`` therefore reads like a table of contents: name, routes, subscriptions, loops.

Typed end to end: a definition is generic in the service's settings class and in its
*context*, whatever else its routes and loops need that the service builds itself (payments:
its Stripe gateway; most services: None). Loops and resources receive a
``ServiceRuntime[TheirSettings, TheirContext]``; routes ask for ``settings_of(TheirSettings)``
or ``context_of(TheirContext)``. mypy checks that they all agree with the definition.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common import tracing
from ticketing.common.advisories import MaxDeliveriesBackstop, ensure_advisory_stream
from ticketing.common.auth import TokenVerifier, UserSession
from ticketing.common.background import cancel_until_done, supervise
from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer, Subscriptions
from ticketing.common.correlation import install_http_observability
from ticketing.common.db import banned_users, create_engine, create_sessionmaker, run_migrations
from ticketing.common.errors import ServiceUnavailableError
from ticketing.common.health import Dependency, bus_answers, health_router, progressing
from ticketing.common.heap import freeze_startup_heap
from ticketing.common.http_errors import install_error_handlers
from ticketing.common.logs import configure_logging
from ticketing.common.metrics import sample_forever, service_samplers
from ticketing.common.outbox import OutboxRelay, sample_backlog
from ticketing.common.refusals import SessionRefusals
from ticketing.common.revocation import is_refused, with_session_subscriptions
from ticketing.common.settings import ServiceSettings
from ticketing.common.uow import UnitOfWork

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
ContextT = TypeVar("ContextT")

BackgroundLoop = Callable[["ServiceRuntime[SettingsT, ContextT]"], Awaitable[None]]
Resource = Callable[["ServiceRuntime[SettingsT, ContextT]"], AbstractAsyncContextManager[object]]
"""Something held open while the service runs (e.g. an HTTP client), entered after the bus
connects and exited before it closes."""


@dataclass
class ServiceDefinition(Generic[SettingsT, ContextT]):
    name: str
    settings: SettingsT
    context: ContextT
    """What the service's routes and loops need beyond settings, database and bus, built by
    its ``app.py`` (payments: its Stripe gateway); None when there is nothing."""
    routers: Sequence[APIRouter] = ()
    subscriptions: Subscriptions = field(default_factory=dict)
    background: Sequence[BackgroundLoop[SettingsT, ContextT]] = ()
    resources: Sequence[Resource[SettingsT, ContextT]] = ()
    consumes_session_events: bool = True
    """Record ``user.banned`` and ``session.revoked`` from the bus, so this service refuses
    those tokens (``revocation.SESSION_SUBSCRIPTIONS``). Auth records them as it publishes."""

    @property
    def migrations_dir(self) -> Path:
        """``ticketing/<name>/migrations``: every service keeps its Alembic revisions there."""
        return Path(str(resources.files(f"ticketing.{self.name}"))) / "migrations"


class ServiceRuntime(Generic[SettingsT, ContextT]):
    """What a running service holds: settings, context, database, bus, relay. One per app."""

    def __init__(self, definition: ServiceDefinition[SettingsT, ContextT]) -> None:
        self.name = definition.name
        self.settings = definition.settings
        self.context = definition.context
        self.engine: AsyncEngine = create_engine(self.settings.database_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        """The same pool for routes that only read: see ``get_reader``."""
        tracing.instrument_engine(self.engine, self.name)
        self.bus = Bus.from_settings(self.settings, service=self.name)  # bounded, reconciled
        self.consumer: EventConsumer | None = None  # set in the lifespan when it subscribes
        self.relay = OutboxRelay(
            self.sessionmaker, self.bus, poll_seconds=self.settings.outbox_poll_seconds
        )
        self.token_verifier = TokenVerifier(self.settings.jwt_public_key)
        self.refusals: SessionRefusals | None = None
        """Bans and revocations in memory, where the service follows those events (None:
        auth, which records them in its own tables as it publishes, asks its database)."""
        if definition.consumes_session_events:
            self.refusals = SessionRefusals(self.sessionmaker, self.bus, durable=self.name)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self.sessionmaker, namespace=self.settings.bus_namespace, on_commit=self.relay.notify
        )

    async def is_banned(self, user_id: UUID) -> bool:
        async with self.sessionmaker() as session:
            found = await session.scalar(
                sa.select(banned_users.c.user_id).where(banned_users.c.user_id == user_id)
            )
        return found is not None

    async def refuses(self, session: UserSession) -> bool:
        """Whether this valid token must be refused: its user banned or its session revoked.
        Memory refuses for sure (it only ever learns real events); it accepts only while it
        is current (``refusals.py``), else the database is asked too."""
        if self.refusals is not None:
            if self.refusals.refuses(session):
                return True
            if self.refusals.current:
                return False
        async with self.sessionmaker() as db:
            return await is_refused(db, session)


def create_service_app(definition: ServiceDefinition[SettingsT, ContextT]) -> FastAPI:
    configure_logging(definition.name)
    runtime = ServiceRuntime(definition)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        structlog.contextvars.bind_contextvars(service=definition.name)  # the loops' lines
        await run_migrations(runtime.engine, definition.migrations_dir)
        await runtime.bus.connect()
        resources = AsyncExitStack()
        for resource in definition.resources:
            await resources.enter_async_context(resource(runtime))
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("outbox-relay", runtime.relay.run)
        ]
        if runtime.refusals is not None:
            await runtime.refusals.start()
            loops.append(("session-refusals", runtime.refusals.run))
        subscriptions = definition.subscriptions
        if definition.consumes_session_events:
            subscriptions = with_session_subscriptions(subscriptions, runtime.refusals)
        if subscriptions:
            consumer = EventConsumer(
                durable=definition.name,
                bus=runtime.bus,
                subscriptions=subscriptions,
                unit_of_work=runtime.unit_of_work,
                max_deliver=runtime.settings.consumer_max_deliver,
                backoff_seconds=runtime.settings.consumer_backoff_seconds,
                ack_wait_seconds=runtime.settings.consumer_ack_wait_seconds,
                concurrency=runtime.settings.consumer_concurrency,
            )
            runtime.consumer = consumer
            loops.append(("consumer", consumer.run))
            # What JetStream gives up on despite the consumer is dead-lettered all the same;
            # its advisories are captured from now on, before the consumer takes a message.
            await ensure_advisory_stream(runtime.bus)
            backstop = MaxDeliveriesBackstop(runtime.bus, consumer=definition.name)
            loops.append(("max-deliveries-backstop", backstop.run))
        durable = None if runtime.consumer is None else runtime.consumer.durable
        outbox_backlog = functools.partial(sample_backlog, runtime.name, runtime.sessionmaker)
        samplers = service_samplers(
            runtime.name, runtime.bus, durable, outbox_backlog=outbox_backlog
        )
        loops.append(("metrics-sampler", functools.partial(sample_forever, samplers)))
        for background in definition.background:
            loops.append((background.__name__, functools.partial(background, runtime)))
        tasks = [asyncio.create_task(supervise(n, loop), name=n) for n, loop in loops]
        freeze_startup_heap()
        try:
            yield
        finally:
            await cancel_until_done(tasks)
            await resources.aclose()
            await runtime.bus.close()
            await runtime.engine.dispose()

    app = FastAPI(title=f"Ticketing {definition.name}", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(
        app,
        max_body_bytes=definition.settings.max_body_bytes,
        max_in_flight=definition.settings.max_in_flight_requests,
    )
    install_http_observability(app, definition.name)
    app.include_router(health_router(_dependencies(runtime)))
    for router in definition.routers:
        app.include_router(router)
    return app


def _dependencies(runtime: ServiceRuntime[SettingsT, ContextT]) -> list[Dependency]:
    """What ``/readyz`` checks: every service's database, NATS, and that its consumer and
    relay still make progress (DESIGN §10)."""

    async def database() -> None:
        async with runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def consumer() -> None:
        if runtime.consumer is not None and runtime.consumer.problem is not None:
            raise ServiceUnavailableError(
                f"The event consumer cannot run: {runtime.consumer.problem}"
            )

    def consumer_progress() -> float:
        return time.monotonic() if runtime.consumer is None else runtime.consumer.last_progress

    threshold = runtime.settings.loop_stall_seconds
    return [
        Dependency("Database", database),
        Dependency("NATS", bus_answers(runtime.bus)),
        Dependency("Event consumer", consumer),
        Dependency(
            "Event consumer progress",
            progressing("The event consumer", consumer_progress, threshold),
        ),
        Dependency(
            "Outbox relay progress",
            progressing("The outbox relay", lambda: runtime.relay.last_progress, threshold),
        ),
    ]


# The dependencies here are ``async def`` although they await nothing: FastAPI runs a plain
# ``def`` dependency in AnyIO's thread pool, a thread hop on every request for a field read.


async def get_runtime(request: Request) -> ServiceRuntime[ServiceSettings, object]:
    """The runtime of the service whose app serves ``request``, as far as ``common`` knows it."""
    runtime: ServiceRuntime[ServiceSettings, object] = request.app.state.runtime
    return runtime


async def get_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    runtime: ServiceRuntime[ServiceSettings, object] = request.app.state.runtime
    async with runtime.unit_of_work() as uow:
        yield uow


async def get_reader(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection in autocommit for a route that reads with one statement (a listing): the
    statement is its own snapshot, so no BEGIN and ROLLBACK round trips, and no ORM session
    to build and tear down around it."""
    runtime: ServiceRuntime[ServiceSettings, object] = request.app.state.runtime
    async with runtime.reader.connect() as connection:
        yield connection


Runtime = Annotated[ServiceRuntime[ServiceSettings, object], Depends(get_runtime)]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
ReaderDep = Annotated[AsyncConnection, Depends(get_reader)]


# The two factories below give a route its service's own types. ``request.app.state`` is untyped
# at the framework's edge; what it holds is sure all the same: ``create_service_app`` puts there
# the runtime of the one definition the app was built from, whose types mypy checked, and a
# service's routes are only ever included in its own app (no service imports another:
# ``make lint``). The class argument names the type; nothing is looked up by it.


def settings_of(settings_class: type[SettingsT]) -> Callable[[Request], Awaitable[SettingsT]]:
    """A dependency returning the running service's settings, typed as its own class."""

    async def dependency(request: Request) -> SettingsT:
        runtime: ServiceRuntime[SettingsT, object] = request.app.state.runtime
        return runtime.settings

    return dependency


def context_of(context_class: type[ContextT]) -> Callable[[Request], Awaitable[ContextT]]:
    """A dependency returning the running service's context (``ServiceDefinition.context``)."""

    async def dependency(request: Request) -> ContextT:
        runtime: ServiceRuntime[ServiceSettings, ContextT] = request.app.state.runtime
        return runtime.context

    return dependency
