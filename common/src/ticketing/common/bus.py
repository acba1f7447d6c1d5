"""The connection to NATS JetStream and the streams the platform relies on.

Stream ``<NAMESPACE>`` holds every event (subjects ``<namespace>.>``), deduplicated on
``Nats-Msg-Id`` = event id; stream ``<NAMESPACE>_DLQ`` holds dead letters (subjects
``<namespace>-dlq.>``). The namespace is ``ticketing`` outside tests.

**Bounded.** Both streams keep messages for a maximum age and up to a maximum size
(``Retention``, from ``BusSettings``); at either limit the oldest messages go, so a full volume
never makes JetStream refuse the platform's publishes. NATS reserves each stream's size cap on
every node, so the caps together must stay below the server's ``max_file_store``.

**Reconciled, not silently kept.** On connect a missing stream is created, and an existing one
whose subjects drifted is corrected. A bus built from settings (``Bus.from_settings``: the
services and workers) also reconciles the limits (age, size, duplicate window, replicas); every
change is logged with its old and new value. A tool's bus (``dlq``, tests) never changes limits
an operator or a service set, so running a command cannot shorten what the stream keeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServerError

from ticketing.common.correlation import publishing
from ticketing.common.metrics import EVENTS_PUBLISHED, event_type_of
from ticketing.common.settings import DAY, GIB, MIB, BusSettings

logger = logging.getLogger("ticketing.bus")

DEDUPE_WINDOW_SECONDS = 10 * 60
LIMIT_FIELDS = ("max_age", "max_bytes", "duplicate_window", "num_replicas")
"""What a bus built from settings reconciles on top of the subjects."""


class StreamConfigError(RuntimeError):
    """A stream's configuration drifted and JetStream refused to reconcile it."""


@dataclass(frozen=True)
class Retention:
    """How long and how much each stream keeps (``BusSettings`` carries the same defaults)."""

    max_age_seconds: float = 7 * DAY
    max_bytes: int = GIB
    dlq_max_age_seconds: float = 30 * DAY
    dlq_max_bytes: int = 128 * MIB

    @classmethod
    def from_settings(cls, settings: BusSettings) -> Retention:
        return cls(
            max_age_seconds=settings.bus_max_age_seconds,
            max_bytes=settings.bus_max_bytes,
            dlq_max_age_seconds=settings.bus_dlq_max_age_seconds,
            dlq_max_bytes=settings.bus_dlq_max_bytes,
        )


@dataclass(frozen=True)
class BusNames:
    namespace: str

    @property
    def stream(self) -> str:
        return self.namespace.upper()

    @property
    def dlq_stream(self) -> str:
        return f"{self.stream}_DLQ"

    def subject(self, event_type: str) -> str:
        return f"{self.namespace}.{event_type}"

    def dlq_subject(self, consumer: str, event_type: str) -> str:
        return f"{self.namespace}-dlq.{consumer}.{event_type}"

    @property
    def lock_bucket(self) -> str:
        """The key-value bucket of short cluster-wide locks (``durable.py``)."""
        return f"{self.stream}_LOCKS"


class Bus:
    """One NATS connection per process; reconnects forever once connected.

    ``retention`` None (tools, tests): streams are created when missing, with the code's
    subjects only, and their limits are left as they are. Services pass their settings'
    retention (``from_settings``) and own the limits."""

    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        stream_replicas: int = 1,
        retention: Retention | None = None,
        service: str = "tool",
    ) -> None:
        self.url = url
        self.service = service  # who publishes: the label of its metrics and spans
        self.stream_replicas = stream_replicas
        self.retention = retention
        self.names = BusNames(namespace)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @classmethod
    def from_settings(cls, settings: BusSettings, *, service: str = "tool") -> Bus:
        """The bus of a service or worker: its streams bounded and reconciled from settings."""
        return cls(
            settings.nats_url,
            settings.bus_namespace,
            stream_replicas=settings.bus_stream_replicas,
            retention=Retention.from_settings(settings),
            service=service,
        )

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("Bus is not connected")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def reconnects(self) -> int:
        """How often the connection was re-established: a plain subscription missed whatever
        was sent while it was down (``refusals.py`` loads again when this changes)."""
        return 0 if self._nc is None else int(self._nc.stats["reconnects"])

    async def round_trip(self, timeout: float = 2.0) -> None:
        """Ping the server and wait for its pong: raises when NATS does not answer within
        ``timeout``. ``is_connected`` alone stays true while a frozen server keeps its socket
        open (nats-py notices only at its next ping, minutes later)."""
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")
        await self._nc.flush(timeout=timeout)  # type: ignore[arg-type]  # typed int, takes float

    async def connect(self, *, attempts: int = 60, wait_seconds: float = 0.5) -> None:
        """Connect, retrying for a while so a service may start just before NATS does."""
        for attempt in range(1, attempts + 1):
            try:
                self._nc = await nats.connect(
                    self.url,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._log_error,
                )
                break
            except Exception:
                if attempt == attempts:
                    raise
                logger.warning("NATS at %s not reachable yet (attempt %d)", self.url, attempt)
                await asyncio.sleep(wait_seconds)
        assert self._nc is not None
        self._js = self._nc.jetstream(timeout=5)
        await self.ensure_streams()

    async def _log_error(self, exc: Exception) -> None:
        logger.warning("NATS: %s", exc)

    async def ensure_streams(self) -> None:
        names, retention = self.names, self.retention
        fields = ("subjects",) if retention is None else ("subjects", *LIMIT_FIELDS)
        events, dlq = (
            self._stream(names.stream, f"{names.namespace}.>"),
            self._stream(names.dlq_stream, f"{names.namespace}-dlq.>"),
        )
        if retention is not None:
            events = _bounded(events, retention.max_age_seconds, retention.max_bytes)
            dlq = _bounded(dlq, retention.dlq_max_age_seconds, retention.dlq_max_bytes)
        await ensure_stream(self.js, events, fields)
        await ensure_stream(self.js, dlq, fields)

    def _stream(self, name: str, subjects: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[subjects],
            storage=StorageType.FILE,
            duplicate_window=DEDUPE_WINDOW_SECONDS,
            num_replicas=self.stream_replicas,
        )

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> bool:
        """Publish and wait for JetStream's ack; True when the stream already had this id.

        ``headers`` (an outbox row's, ``correlation.outgoing_headers()``) carry the request id
        and trace context on; the publish is a producer span of that trace."""
        sent = {**(headers or {}), "Nats-Msg-Id": msg_id}
        with publishing(self.service, subject, sent):
            ack = await self.js.publish(subject, payload, headers=sent)
        if (event_type := event_type_of(subject, self.names.namespace)) is not None:
            EVENTS_PUBLISHED.labels(self.service, event_type).inc()
        return bool(ack.duplicate)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None
        self._js = None


def _bounded(config: StreamConfig, max_age: float, max_bytes: int) -> StreamConfig:
    # JetStream refuses a dedupe window longer than the stream keeps messages.
    window = min(config.duplicate_window, max_age)
    return config.evolve(max_age=max_age, max_bytes=max_bytes, duplicate_window=window)


async def ensure_stream(js: JetStreamContext, wanted: StreamConfig, fields: Iterable[str]) -> None:
    """Create ``wanted`` if missing; otherwise bring ``fields`` of the existing stream to
    ``wanted``'s values (logging each change) and keep every other field as it is."""
    assert wanted.name is not None
    try:
        current = (await js.stream_info(wanted.name)).config
    except NotFoundError:
        try:
            await js.add_stream(wanted)
            logger.info("Created stream %s", wanted.name)
            return
        except BadRequestError:  # another process created it meanwhile: reconcile theirs
            current = (await js.stream_info(wanted.name)).config
    changes = {
        field: getattr(wanted, field)
        for field in fields
        if not _same(getattr(current, field), getattr(wanted, field))
    }
    if not changes:
        return
    described = ", ".join(
        f"{field} {getattr(current, field)!r} -> {value!r}" for field, value in changes.items()
    )
    try:
        await js.update_stream(current.evolve(**changes))
    except (BadRequestError, ServerError) as exc:  # a refusal, not an outage
        message = f"Stream {wanted.name} drifted ({described}) and JetStream refused: {exc}"
        logger.error("%s", message)
        raise StreamConfigError(message) from exc
    logger.warning("Stream %s reconciled: %s", wanted.name, described)


def _same(current: Any, wanted: Any) -> bool:
    """Equal as JetStream means it: unset and 0/-1 are "no limit", durations in whole ms."""
    if isinstance(wanted, float) or isinstance(current, float):
        return round((current or 0) * 1000) == round((wanted or 0) * 1000)
    if wanted is None or (isinstance(wanted, int) and wanted <= 0):
        return current is None or (isinstance(current, int) and current <= 0)
    return bool(current == wanted)
