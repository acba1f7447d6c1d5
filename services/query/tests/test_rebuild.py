"""The rebuild: replaying the stream reproduces the live read model, and says what it could
not place."""

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from uuid import uuid4

import httpx
from query_world import (
    ReadModel,
    Rows,
    publish,
    reservation,
    ticket_created,
    ticket_updated,
    user_banned,
    user_signed_up,
)

from ticketing.common.bus import Bus
from ticketing.common.events import Event
from ticketing.query.config import QuerySettings
from ticketing.query.rebuild import rebuild_read_model
from ticketing.testkit.events import (
    order_cancelled,
    order_completed,
    payment_created,
    publish_event,
)
from ticketing.testkit.http import eventually


async def test_a_rebuild_reproduces_the_live_read_model(
    client: httpx.AsyncClient, bus: Bus, query_settings: QuerySettings, read_model: ReadModel
) -> None:
    sold, freed, edited, plain, user = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    sale, cancelled = uuid4(), uuid4()
    sale_order, dropped = reservation(sale, sold, user), reservation(cancelled, freed, user)
    events: list[Event] = [
        user_signed_up(user),
        payment_created(sale),  # before its order
        sale_order,  # before its ticket
        ticket_created(sold),
        ticket_updated(sold, 1, order_id=sale),
        order_completed(sale_order),
        ticket_created(freed),
        dropped,
        ticket_updated(freed, 1, order_id=cancelled),
        order_cancelled(dropped),
        ticket_updated(freed, 2),
        ticket_created(edited),
        ticket_updated(edited, 2, title="v2"),  # before v1, on the stream too
        ticket_updated(edited, 1, title="v1"),
        user_banned(uuid4()),
        ticket_created(plain),
    ]
    await publish(bus, *events)
    await publish_event(bus, events[4], msg_id=str(uuid4()))  # a redelivery on the stream

    async def all_applied() -> Rows:
        rows = await read_model()
        assert {event.id for event in events} <= {row[0] for row in rows["processed_events"]}
        return rows

    live = await eventually(all_applied)
    report = await rebuild_read_model(query_settings)

    rebuilt = await read_model()
    for table, rows in live.items():  # table by table, so a failure shows the rows that differ
        assert (
            sorted(set(rebuilt[table]) - set(rows)),
            sorted(set(rows) - set(rebuilt[table])),
        ) == (
            [],
            [],
        ), table
    replayed = len(live["processed_events"])  # ours, and the marker of the client fixture
    assert (report.replayed, report.duplicates, report.unresolved) == (replayed, 1, [])
    statuses = {row[0]: row[6] for row in live["listings"]}
    assert statuses == {sold: "sold", freed: "available", edited: "available", plain: "available"}


async def test_a_rebuild_reports_events_whose_predecessor_never_came(
    bus: Bus, query_settings: QuerySettings
) -> None:
    ticket_id = uuid4()
    gap = ticket_updated(ticket_id, 3)
    await publish(bus, ticket_created(ticket_id), gap, ticket_updated(ticket_id, 1))

    report = await rebuild_read_model(query_settings)

    assert (report.replayed, report.unresolved) == (2, [gap])


async def test_the_rebuild_command_replays_the_stream(
    bus: Bus, query_settings: QuerySettings, read_model: ReadModel
) -> None:
    await publish(bus, ticket_created(uuid4()), user_signed_up(uuid4()))
    env = {
        **os.environ,
        "QUERY_ENVIRONMENT": "test",
        "QUERY_DATABASE_URL": query_settings.database_url,
        "QUERY_NATS_URL": query_settings.nats_url,
        "QUERY_BUS_NAMESPACE": query_settings.bus_namespace,
        "QUERY_JWT_PUBLIC_KEY": query_settings.jwt_public_key,
    }

    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticketing.query", "rebuild", env=env, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await command.communicate()

    assert command.returncode == 0, stderr.decode()
    assert stdout.decode().startswith("replayed 2 events (0 duplicates")
    assert len((await read_model())["listings"]) == 1
