"""The read model's rebuild needs only the events since the last snapshot (DESIGN §4 "Bounded
and durable"): after the stream's retention deleted the older ones, a rebuild still reproduces
the live read model. Real NATS retention (a max age of one second), real PostgreSQL."""

from uuid import UUID, uuid4

import httpx
import pytest
import query_world
import sqlalchemy as sa
from query_world import (
    SELLER,
    ReadModel,
    Rows,
    ticket_created,
    ticket_updated,
    user_banned,
    user_signed_up,
)

from ticketing.common.bus import Bus
from ticketing.common.db import create_engine, create_sessionmaker
from ticketing.common.events import (
    Event,
    OrderCreated,
)
from ticketing.common.settings import MIB, BusSettings
from ticketing.query.config import QuerySettings
from ticketing.query.rebuild import HistoryLostError, rebuild_read_model
from ticketing.query.snapshot import DURABLE, SNAPSHOT_LOCK, Checkpoint, StateNames, take_snapshot
from ticketing.testkit.events import (
    order_cancelled,
    order_completed,
    payment_created,
    publish_event,
)
from ticketing.testkit.fixtures import Infrastructure
from ticketing.testkit.http import eventually

BUYER = uuid4()


def ticket(
    ticket_id: UUID, version: int, order_id: UUID | None = None, title: str = "Gig"
) -> Event:
    if version == 0:
        return ticket_created(ticket_id, title=title)
    return ticket_updated(ticket_id, version, order_id, title=title)


def reservation(order_id: UUID, ticket_id: UUID) -> OrderCreated:
    return query_world.reservation(order_id, ticket_id, BUYER)


async def handled(bus: Bus, read_model: ReadModel, events: list[Event]) -> Rows:
    """The read model once the live consumer has applied and acked ``events``."""
    last_seq = (await bus.js.stream_info(bus.names.stream)).state.last_seq

    async def done() -> Rows:
        rows = await read_model()
        assert {e.id for e in events} <= {row[0] for row in rows["processed_events"]}
        info = await bus.js.consumer_info(bus.names.stream, DURABLE)
        assert info.ack_floor.stream_seq == last_seq
        return rows

    return await eventually(done, timeout=30)


async def snapshot(settings: QuerySettings, bus: Bus) -> Checkpoint:
    engine = create_engine(settings.database_url)
    try:
        checkpoint = await take_snapshot(bus, create_sessionmaker(engine), max_bytes=8 * MIB)
    finally:
        await engine.dispose()
    assert checkpoint is not None
    return checkpoint


async def age_out_every_event_so_far(infrastructure: Infrastructure, bus: Bus) -> None:
    """Shrink the stream's max age to a second, as a service with that setting would, until
    JetStream has deleted every event; then give it an hour again."""
    limits = BusSettings(
        environment="test",
        nats_url=infrastructure.nats_url,
        bus_namespace=bus.names.namespace,
        bus_max_age_seconds=1,
        bus_max_bytes=8 * MIB,
        bus_dlq_max_bytes=2 * MIB,
    )
    for max_age in (1, 3600):
        service = Bus.from_settings(limits.model_copy(update={"bus_max_age_seconds": max_age}))
        await service.connect(attempts=1)
        await service.close()
        if max_age == 1:

            async def all_deleted() -> None:
                state = (await bus.js.stream_info(bus.names.stream)).state
                assert (state.messages, state.first_seq) == (0, state.last_seq + 1)

            await eventually(all_deleted, timeout=30)


async def test_a_rebuild_after_old_events_aged_out_reproduces_the_live_read_model(
    client: httpx.AsyncClient,
    bus: Bus,
    query_settings: QuerySettings,
    read_model: ReadModel,
    infrastructure: Infrastructure,
) -> None:
    sold, freed, edited, fresh, sale, dropped, second = (uuid4() for _ in range(7))
    paid, unpaid = reservation(sale, sold), reservation(dropped, freed)
    history = [
        user_signed_up(BUYER),
        ticket(sold, 0),
        paid,
        ticket(sold, 1, order_id=sale),
        payment_created(sale),
        order_completed(paid),
        ticket(freed, 0),
        unpaid,
        ticket(freed, 1, order_id=dropped),
        order_cancelled(unpaid),
        ticket(freed, 2),
        ticket(edited, 0, title="v0"),
        ticket(edited, 1, title="v1"),
        user_banned(SELLER),
    ]
    for event in history:
        await publish_event(bus, event)
    await handled(bus, read_model, history)
    checkpoint = await snapshot(query_settings, bus)
    await age_out_every_event_so_far(infrastructure, bus)
    recent = [
        ticket(edited, 2, title="v2"),  # builds on a version only the snapshot still has
        reservation(second, freed),
        ticket(freed, 3, order_id=second),
        ticket(fresh, 0),
        user_signed_up(uuid4()),
    ]
    for event in recent:
        await publish_event(bus, event)
    live = await handled(bus, read_model, recent)

    report = await rebuild_read_model(query_settings)

    rebuilt = await read_model()
    for table in ("listings", "orders", "payments", "users", "banned_users"):
        assert rebuilt[table] == live[table], table
    assert {row[0] for row in rebuilt["processed_events"]} == {e.id for e in recent}
    assert (report.restored, report.through, report.replayed, report.unresolved) == (
        checkpoint.rows,
        checkpoint.through,
        len(recent),
        [],
    )
    statuses = {row[0]: (row[1], row[6]) for row in rebuilt["listings"]}
    assert statuses == {
        sold: ("Gig", "sold"),
        freed: ("Gig", "reserved"),
        edited: ("v2", "available"),
        fresh: ("Gig", "available"),
    }


async def test_a_rebuild_refuses_when_events_after_the_snapshot_aged_out(
    client: httpx.AsyncClient,
    bus: Bus,
    query_settings: QuerySettings,
    read_model: ReadModel,
    infrastructure: Infrastructure,
) -> None:
    covered, lost = uuid4(), uuid4()
    await publish_event(bus, ticket(covered, 0))
    await handled(bus, read_model, [])
    await snapshot(query_settings, bus)
    unsnapshotted = [ticket(lost, 0)]
    await publish_event(bus, unsnapshotted[0])
    before = await handled(bus, read_model, unsnapshotted)
    await age_out_every_event_so_far(infrastructure, bus)

    with pytest.raises(HistoryLostError, match="aged out of the stream"):
        await rebuild_read_model(query_settings)

    assert await read_model() == before


async def test_a_snapshot_keeps_one_message_per_row_and_one_replica_takes_it(
    client: httpx.AsyncClient, bus: Bus, query_settings: QuerySettings, read_model: ReadModel
) -> None:
    ticket_id = uuid4()
    events = [ticket(ticket_id, 0), ticket(ticket_id, 1, title="v1"), user_signed_up(BUYER)]
    for event in events:
        await publish_event(bus, event)
    await handled(bus, read_model, events)
    engine = create_engine(query_settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        first = await take_snapshot(bus, sessions, max_bytes=8 * MIB)
        again = await take_snapshot(bus, sessions, max_bytes=8 * MIB)
        too_soon = await take_snapshot(bus, sessions, max_bytes=8 * MIB, fresh_for=3600)
        async with sessions() as other_replica, other_replica.begin():
            await other_replica.execute(sa.select(sa.func.pg_advisory_xact_lock(SNAPSHOT_LOCK)))
            while_taken = await take_snapshot(bus, sessions, max_bytes=8 * MIB)
    finally:
        await engine.dispose()

    assert first is not None and again is not None
    assert (first.rows, too_soon, while_taken) == (2, None, None)  # the listing, the user
    state = (await bus.js.stream_info(StateNames(bus.names.namespace).stream)).state
    assert state.messages == first.rows + 1  # the rows of the last snapshot and its checkpoint
