"""Backpressure primitives: the in-flight bound holds, and the sequencer keeps chunk order."""

from __future__ import annotations

import asyncio
import random

from pump.flow import InFlight, Sequencer


async def test_in_flight_never_exceeds_its_limit() -> None:
    bound = InFlight(10)
    peak = 0

    async def user(n: int) -> None:
        nonlocal peak
        await bound.acquire(n)
        peak = max(peak, bound.used)
        await asyncio.sleep(random.random() / 1000)
        bound.release(n)

    await asyncio.gather(*(user(random.randint(1, 10)) for _ in range(200)))
    assert peak <= 10
    assert bound.used == 0
    await bound.wait_idle()


async def test_in_flight_request_bigger_than_limit_waits_for_empty_pipe() -> None:
    bound = InFlight(5)
    await bound.acquire(3)
    task = asyncio.create_task(bound.acquire(50))
    await asyncio.sleep(0.01)
    assert not task.done()
    bound.release(3)
    await asyncio.wait_for(task, 1)
    assert bound.used == 5
    assert bound.blocked_seconds > 0


async def test_cancelled_waiter_does_not_leak_capacity() -> None:
    bound = InFlight(2)
    await bound.acquire(2)
    waiter = asyncio.create_task(bound.acquire(2))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    bound.release(2)
    assert bound.used == 0


async def test_sequencer_releases_workers_in_chunk_order() -> None:
    seq = Sequencer()
    order: list[int] = []

    async def worker(n: int) -> None:
        await asyncio.sleep(random.random() / 100)
        await seq.turn(n)
        order.append(n)
        seq.done(n)

    await asyncio.gather(*(worker(n) for n in random.sample(range(30), 30)))
    assert order == list(range(30))
