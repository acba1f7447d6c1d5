"""The connection to NATS JetStream and the streams the platform relies on.

Stream ``<NAMESPACE>`` holds every event (subjects ``<namespace>.>``), deduplicated on
``Nats-Msg-Id`` = event id; stream ``<NAMESPACE>_DLQ`` holds dead letters (subjects
``<namespace>-dlq.>``). The namespace is ``ticketing`` outside tests.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError

logger = logging.getLogger("ticketing.bus")

DEDUPE_WINDOW_SECONDS = 10 * 60


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


class Bus:
    """One NATS connection per process; reconnects forever once connected."""

    def __init__(self, url: str, namespace: str, *, stream_replicas: int = 1) -> None:
        self.url = url
        self.stream_replicas = stream_replicas
        self.names = BusNames(namespace)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("Bus is not connected")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

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
        await self._ensure_stream(
            StreamConfig(
                name=self.names.stream,
                subjects=[f"{self.names.namespace}.>"],
                storage=StorageType.FILE,
                duplicate_window=DEDUPE_WINDOW_SECONDS,
                num_replicas=self.stream_replicas,
            )
        )
        await self._ensure_stream(
            StreamConfig(
                name=self.names.dlq_stream,
                subjects=[f"{self.names.namespace}-dlq.>"],
                storage=StorageType.FILE,
                duplicate_window=DEDUPE_WINDOW_SECONDS,
                num_replicas=self.stream_replicas,
            )
        )

    async def _ensure_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            # Already there with another config (e.g. replicas set by ops): keep theirs.
            logger.info("Stream %s exists; keeping its configuration", config.name)

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> bool:
        """Publish and wait for JetStream's ack; True when the stream already had this id."""
        ack = await self.js.publish(
            subject, payload, headers={"Nats-Msg-Id": msg_id, **(headers or {})}
        )
        return bool(ack.duplicate)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None
        self._js = None
