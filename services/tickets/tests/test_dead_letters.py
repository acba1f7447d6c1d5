"""An order for a ticket tickets never had is a fault to look at, not something to retry
forever: after its bounded retries it lands in the dead-letter stream."""

from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.testkit.events import order_created, publish_event
from ticketing.testkit.http import eventually
from ticketing.tickets.config import TicketsSettings


@pytest.fixture
def tickets_settings(tickets_settings: TicketsSettings) -> TicketsSettings:
    return tickets_settings.model_copy(update={"consumer_max_deliver": 2})


async def test_an_order_for_an_unknown_ticket_is_dead_lettered(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    event = order_created(uuid4(), price=Decimal("10"))  # a ticket of its own, unknown here

    await publish_event(bus, event)

    async def dead_lettered() -> bytes:
        info = await bus.js.stream_info(bus.names.dlq_stream)
        assert info.state.messages == 1
        message = await bus.js.get_msg(bus.names.dlq_stream, info.state.last_seq)
        return message.data or b""

    assert await eventually(dead_lettered) == event.to_bytes()
