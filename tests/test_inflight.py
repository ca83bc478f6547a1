"""Backpressure and order primitives: the in-flight bound holds and never leaks, the sequencer keeps chunk order."""

from __future__ import annotations

import asyncio
import random

import pytest

from pump.engine import Sequencer
from pump.output import InFlight


@pytest.mark.parametrize("seed", range(5))
async def test_in_flight_never_exceeds_its_limit(seed: int) -> None:
    rnd = random.Random(seed)
    waits: list[float] = []
    bound = InFlight(10, waits.append)
    peak = 0

    async def user(n: int, pause: float) -> None:
        nonlocal peak
        await bound.acquire(n)
        peak = max(peak, bound.used)
        await asyncio.sleep(pause)
        bound.release(n)

    await asyncio.gather(*(user(rnd.randint(1, 10), rnd.random() / 1000) for _ in range(200)))
    assert peak == 10 and bound.used == 0
    assert waits and all(w >= 0 for w in waits)  # every wait was reported
    await bound.wait_idle()


async def test_a_request_bigger_than_the_limit_waits_for_an_empty_pipe_then_goes_alone() -> None:
    bound = InFlight(5)
    await bound.acquire(3)
    task = asyncio.create_task(bound.acquire(50))
    await asyncio.sleep(0.01)
    assert not task.done()
    bound.release(3)
    await asyncio.wait_for(task, 1)
    assert bound.used == 5


async def test_a_waiter_cancelled_before_its_turn_takes_nothing() -> None:
    bound = InFlight(2)
    await bound.acquire(2)
    waiter = asyncio.create_task(bound.acquire(2))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    bound.release(2)
    assert bound.used == 0


async def test_a_waiter_cancelled_just_after_it_was_granted_gives_the_room_back() -> None:
    bound = InFlight(2)
    await bound.acquire(2)
    waiter = asyncio.create_task(bound.acquire(2))
    await asyncio.sleep(0)  # the waiter now waits for room
    bound.release(2)  # grants the waiter its 2 (used is 2 again) ...
    assert bound.used == 2
    waiter.cancel()  # ... but it is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bound.used == 0
    await asyncio.wait_for(bound.acquire(2), 1)  # and the room is really there


@pytest.mark.parametrize("seed", range(3))
async def test_sequencer_releases_workers_in_chunk_order(seed: int) -> None:
    rnd = random.Random(seed)
    seq = Sequencer()
    order: list[int] = []

    async def worker(n: int, pause: float) -> None:
        await asyncio.sleep(pause)
        await seq.turn(n)
        order.append(n)
        seq.done(n)

    await asyncio.gather(*(worker(n, rnd.random() / 100) for n in rnd.sample(range(30), 30)))
    assert order == list(range(30))
