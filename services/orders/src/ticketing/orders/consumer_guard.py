"""A stop-gap until ``common`` fixes it: make sure the event consumer really stops on shutdown.

On Python 3.11, ``asyncio.wait_for`` (used by nats-py's ``fetch``) returns its result instead of
raising ``CancelledError`` when a message lands in the same loop turn as the cancellation. The
consumer task then keeps fetching forever and the service never finishes shutting down. This
loop sits idle while the service runs; when the lifespan cancels it, it re-cancels the consumer
task until it is done. Remove it once ``EventConsumer.run`` honours ``Task.cancelling()``.
"""

from __future__ import annotations

import asyncio

from ticketing.common.service import ServiceRuntime

CONSUMER_TASK = "consumer"  # the name create_service_app gives the consumer's task


async def stop_consumer_on_shutdown(runtime: ServiceRuntime) -> None:
    try:
        await asyncio.Event().wait()  # nothing to do until shutdown
    finally:
        consumers = [t for t in asyncio.all_tasks() if t.get_name() == CONSUMER_TASK]
        while any(not task.done() for task in consumers):
            for task in consumers:
                task.cancel()
            await asyncio.wait(consumers, timeout=0.2)
