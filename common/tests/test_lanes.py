"""``lanes.py``: jobs sharing a key run in the order submitted, others at once, at most
``concurrency`` at a time."""

import asyncio
from collections.abc import Awaitable, Callable

from ticketing.common.lanes import Lanes
from ticketing.testkit.http import eventually


def step(
    name: str, ran: list[str], gate: asyncio.Event | None = None
) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        ran.append(f"{name} started")
        if gate is not None:
            await gate.wait()
        ran.append(f"{name} done")

    return job


async def test_a_job_waits_for_the_earlier_one_of_its_key_and_no_other() -> None:
    lanes, ran, gate = Lanes(4), list[str](), asyncio.Event()
    lanes.submit(frozenset({"a"}), step("a1", ran, gate))
    lanes.submit(frozenset({"a"}), step("a2", ran))
    lanes.submit(frozenset({"b"}), step("b1", ran))

    async def b_went_past() -> None:
        assert ran == ["a1 started", "b1 started", "b1 done"]

    await eventually(b_went_past, timeout=5)
    gate.set()
    await lanes.join()

    assert ran[3:] == ["a1 done", "a2 started", "a2 done"]
    assert len(lanes) == 0


async def test_a_job_of_two_keys_waits_for_both() -> None:
    lanes, ran = Lanes(4), list[str]()
    first, second = asyncio.Event(), asyncio.Event()
    lanes.submit(frozenset({"order"}), step("payment", ran, first))
    lanes.submit(frozenset({"ticket"}), step("price change", ran, second))
    lanes.submit(frozenset({"order", "ticket"}), step("cancel", ran))

    async def both_started() -> None:
        assert ran == ["payment started", "price change started"]

    await eventually(both_started, timeout=5)
    first.set()

    async def payment_done() -> None:
        assert ran[2:] == ["payment done"]  # and the cancel waits: the ticket's job still runs

    await eventually(payment_done, timeout=5)
    second.set()
    await lanes.join()

    assert ran[-2:] == ["cancel started", "cancel done"]


async def test_no_more_than_concurrency_jobs_run_at_once() -> None:
    lanes, ran, gate = Lanes(2), list[str](), asyncio.Event()
    for name in ("x", "y", "z"):
        lanes.submit(frozenset({name}), step(name, ran, gate))

    async def two_started() -> None:
        assert ran == ["x started", "y started"]

    await eventually(two_started, timeout=5)
    assert len(lanes) == 3
    gate.set()
    await lanes.join()

    assert sorted(ran) == sorted(f"{n} {s}" for n in "xyz" for s in ("started", "done"))
