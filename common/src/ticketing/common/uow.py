"""The unit of work: one database transaction that carries state changes *and* their events.

``publish()`` stages an event; ``commit()`` writes the staged events to the outbox table in the
same transaction as the state change (with the request id and trace context of the moment, which
the relay sends on), commits, and wakes the relay. An event of a rolled-back
transaction is therefore never published, and one of a committed transaction never lost.
``claim()`` makes a consumer's transaction the one that handles an incoming event.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.correlation import REQUEST_ID_HEADER, outgoing_headers
from ticketing.common.db import outbox, processed_events
from ticketing.common.events import Event


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        namespace: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.session = sessionmaker()
        self._namespace = namespace
        self._on_commit = on_commit
        self._staged: list[Event] = []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        await self.session.close()

    def publish(self, event: Event) -> None:
        """Stage an event: it reaches the outbox only if this unit of work commits."""
        self._staged.append(event)

    async def commit(self) -> None:
        staged, self._staged = self._staged, []
        if staged:
            origin = outgoing_headers()  # the request (or event) that caused them, and its trace
            rows = [
                {
                    "event_id": e.id,
                    "subject": e.subject(self._namespace),
                    "payload": e.to_bytes(),
                    "request_id": origin.get(REQUEST_ID_HEADER),
                    "traceparent": origin.get("traceparent"),
                }
                for e in staged
            ]
            await self.session.execute(sa.insert(outbox), rows)
        await self.session.commit()
        if staged and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        self._staged.clear()
        await self.session.rollback()

    async def claim(self, event: Event) -> bool:
        """Record, first thing in the transaction, that this event is being handled here;
        False when it was handled already (skip it).

        A replica handling the same event at the same moment holds the row: this waits for it
        to commit (False: it is handled) or roll back (True: ours now). So duplicates across
        replicas queue on the row instead of both running the handler and one failing on the
        unique key at the end.
        """
        claimed = await self.session.scalar(
            postgresql.insert(processed_events)
            .values(event_id=event.id, event_type=event.type)
            .on_conflict_do_nothing(index_elements=[processed_events.c.event_id])
            .returning(processed_events.c.event_id)
        )
        return claimed is not None

    async def mark_processed(self, event: Event) -> None:
        """Record an event as handled where nothing can race (the query rebuild)."""
        await self.session.execute(
            sa.insert(processed_events).values(event_id=event.id, event_type=event.type)
        )
