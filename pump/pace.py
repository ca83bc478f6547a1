"""Pacing: how fast a replay goes. ``RateLimit`` (``--rate``) paces the reader; the slot between decode and send
(``Pacer``) is where pacing by the records' own event times will go.

Today every replay runs as fast as the cluster takes it (``Unpaced``). A pacer sees each
decoded chunk, in input order and in its turn, and yields it on as one or more pieces,
waiting between them as its pace requires: at most N records a second, or the gaps
between the records' event times, sped up. A piece is a ``Decoded`` holding some of the
chunk's records; records keep their line numbers, so a pacer that needs input order
across partitions can rebuild it by merging the partitions' lists on ``line``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from pump.account.latency import LatencyHistogram
from pump.decode import Decoded


class Pacer(Protocol):
    def pace(self, decoded: Decoded) -> AsyncIterator[Decoded]: ...


class Unpaced:
    """No pacing: each chunk goes on whole, at once."""

    async def pace(self, decoded: Decoded) -> AsyncIterator[Decoded]:
        yield decoded


async def _sleep_unless(seconds: float, halted: asyncio.Event) -> None:
    """Sleeps ``seconds``, or less if the run is halted meanwhile (a first SIGINT stops a long wait at once)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(halted.wait(), seconds)


class RateLimit:
    """At most ``rate`` records a second, smoothly: the reader hands on pieces of about ``PIECE_SECONDS`` worth of
    records, each when it is due on a schedule, ``t0 + records before it / rate`` on the loop's clock (never a
    sleep relative to the last one, so lateness does not add up). A piece due within a couple of milliseconds
    goes at once. A piece more than ``MAX_LATE`` late (a broker that stalled, backpressure) moves the schedule
    on by its lateness instead of sending a burst to catch up; the lateness is kept (``lag``, ``shifted``).
    """

    PIECE_SECONDS = 0.02
    MAX_LATE = 0.1
    EARLY_ENOUGH = 0.002

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float, asyncio.Event], Awaitable[None]] = _sleep_unless,
    ) -> None:
        self.rate = rate
        self.piece = max(1, int(rate * self.PIECE_SECONDS))
        self.lag = LatencyHistogram()  # how late each piece went, seconds
        self.shifted = 0.0  # seconds the schedule moved on after stalls
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None
        self._count = 0

    async def wait(self, records: int, halted: asyncio.Event) -> float:
        """Returns when a piece of ``records`` may go (or at once if ``halted`` is set meanwhile): how late it is."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._count / self.rate
        late = now - due
        if late < -self.EARLY_ENOUGH:
            await self._sleep(-late, halted)
            late = max(self._clock() - due, 0.0)  # how late the sleep woke
        elif late > self.MAX_LATE:
            self._t0 += late
            self.shifted += late
        late = max(late, 0.0)
        self.lag.record(late, 1)
        self._count += records
        return late

    def summary(self) -> tuple[float, float, float, float, float]:
        """(rate, lag p50 ms, lag p99 ms, lag max ms, seconds the schedule moved on), for the report."""
        lag = self.lag
        ms = [round(x * 1000, 3) for x in (lag.quantile(0.5), lag.quantile(0.99), lag.max)]
        return self.rate, ms[0], ms[1], ms[2], round(self.shifted, 3)
