"""The sweep clears a backlog in one go: while a pass comes back full it goes straight on,
instead of cancelling one batch per ``sweep_interval_seconds`` (100 per 30 s before)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from ticketing.common.contracts import utcnow
from ticketing.common.db import outbox
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Order, Ticket
from ticketing.orders.sweep import OrdersRuntime, sweep_all_overdue

if TYPE_CHECKING:
    from conftest import OrdersSettingsWith

BACKLOG = 25
BATCH = 10


@pytest.fixture
async def orders_settings(orders_settings_with: OrdersSettingsWith) -> OrdersSettings:
    """The service's own sweep never finds these orders overdue (a grace of days): only the
    sweep this test runs cancels them."""
    return await orders_settings_with(
        payment_grace_seconds=10 * 24 * 3600,
        sweep_interval_seconds=3600,
    )


@pytest.fixture
def runtime(app: FastAPI, client: httpx.AsyncClient) -> OrdersRuntime:
    runtime: OrdersRuntime = app.state.runtime
    return runtime


async def place_orders(runtime: OrdersRuntime, count: int, *, expired_ago: timedelta) -> None:
    async with runtime.unit_of_work() as uow:
        for _ in range(count):
            ticket = Ticket(
                id=uuid4(), title="Concert", price=Decimal("20"), user_id=uuid4(), version=0
            )
            uow.session.add(ticket)
            uow.session.add(
                Order(
                    user_id=uuid4(),
                    ticket=ticket,
                    status="created",
                    expires_at=utcnow() - expired_ago,
                )
            )
        await uow.commit()


async def count_by_status(runtime: OrdersRuntime) -> dict[str, int]:
    async with runtime.unit_of_work() as uow:
        rows = await uow.session.execute(
            sa.select(Order.status, sa.func.count()).group_by(Order.status)
        )
        return {status: count for status, count in rows}


async def test_one_sweep_cancels_a_backlog_larger_than_its_batch(runtime: OrdersRuntime) -> None:
    await place_orders(runtime, BACKLOG, expired_ago=timedelta(hours=1))
    await place_orders(runtime, 1, expired_ago=timedelta(hours=-1))  # still in its window

    cancelled = await sweep_all_overdue(runtime, timedelta(0), batch=BATCH)

    assert cancelled == BACKLOG
    assert await count_by_status(runtime) == {"cancelled": BACKLOG, "created": 1}
    async with runtime.unit_of_work() as uow:
        query = sa.select(sa.func.count()).where(outbox.c.subject.like("%.order.cancelled"))
        assert await uow.session.scalar(query) == BACKLOG
