"""The safety net behind the expiration worker: a periodic sweep cancels orders still
``created`` past their ``expiresAt`` + the payment grace (if Redis lost the job, no ticket
stays reserved forever). It uses the same moment as the worker's job (``domain.expiry_is_due``):
a payment accepted before ``expiresAt`` has the grace to reach this service. An order whose
payment is on the stream and not settled here is left for a later pass, however late
(``payments_in_flight``): after an outage the backlog's payments complete their orders first.
While NATS is down nothing is cancelled, since nobody can tell which payments are on their way."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ticketing.common.contracts import utcnow
from ticketing.common.service import ServiceRuntime
from ticketing.orders import use_cases
from ticketing.orders.config import OrdersSettings
from ticketing.orders.payments_in_flight import PaymentsInFlight

OrdersRuntime = ServiceRuntime[OrdersSettings, PaymentsInFlight]

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
    """One pass, one transaction: lock what no other replica holds, cancel it, publish.

    Payments on their way are read twice. The first read (any recent snapshot) keeps their
    orders out of the batch, so a batch of them cannot hide the orders behind it. The second,
    taken after the batch's moment, decides: every order in the batch was due before it."""
    payments, now = runtime.context, utcnow()
    async with runtime.unit_of_work() as uow:
        overdue = await use_cases.lock_overdue_orders(
            uow, now=now, grace=grace, limit=batch, skip=await payments.orders(since=now - grace)
        )
        on_their_way = await payments.orders(since=now)
        expired = [order for order in overdue if order.id not in on_their_way]
        for order in expired:
            await use_cases.cancel_order(uow, order)
        await uow.commit()
    if held := len(on_their_way & {order.id for order in overdue}):
        logger.info("Sweep left %d overdue orders for their payments on the stream", held)
    return len(expired)
