"""The safety net behind the expiration worker: a periodic sweep cancels orders still
``created`` past their ``expiresAt`` + the payment grace (if Redis lost the job, no ticket
stays reserved forever). It uses the same moment as the worker's job (``domain.expiry_is_due``):
a payment accepted before ``expiresAt`` has the grace to reach this service."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ticketing.common.contracts import utcnow
from ticketing.common.service import ServiceRuntime
from ticketing.orders import use_cases
from ticketing.orders.config import OrdersSettings

OrdersRuntime = ServiceRuntime[OrdersSettings, None]

logger = logging.getLogger("ticketing.orders.sweep")

SWEEP_BATCH = 100  # orders per pass (one transaction)


async def sweep_overdue_orders(runtime: OrdersRuntime) -> None:
    """Background loop: cancel overdue orders every ``sweep_interval_seconds``."""
    settings = runtime.settings
    grace = timedelta(seconds=settings.payment_grace_seconds)
    while True:
        cancelled = await sweep_all_overdue(runtime, grace)
        if cancelled:
            logger.info("Sweep cancelled %d overdue orders", cancelled)
        await asyncio.sleep(settings.sweep_interval_seconds)


async def sweep_all_overdue(
    runtime: OrdersRuntime, grace: timedelta, batch: int = SWEEP_BATCH
) -> int:
    """Pass after pass while one comes back full. A backlog (e.g. after Redis lost its jobs)
    is cleared at once, not ``batch`` orders per interval."""
    total = 0
    while True:
        cancelled = await cancel_overdue_orders(runtime, grace, batch)
        total += cancelled
        if cancelled < batch:
            return total


async def cancel_overdue_orders(
    runtime: OrdersRuntime, grace: timedelta, batch: int = SWEEP_BATCH
) -> int:
    """One pass, one transaction: lock what no other replica holds, cancel it, publish."""
    async with runtime.unit_of_work() as uow:
        overdue = await use_cases.lock_overdue_orders(uow, now=utcnow(), grace=grace, limit=batch)
        for order in overdue:
            await use_cases.cancel_order(uow, order)
        await uow.commit()
    return len(overdue)
