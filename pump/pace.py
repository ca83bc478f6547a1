"""Pacing: how fast a replay goes. ``RateLimit`` (``--rate``) paces the reader; ``EventPace`` (``--speed``) paces
by the records' own event times, in the slot between decode and send (``Pacer``).

A pacer sees each decoded chunk, in input order and in its turn, and yields it on as one or
more pieces, waiting between them as its pace requires. A piece is a ``Decoded`` holding some
of the chunk's records; records keep their line numbers, and ``Decoded.times`` lists them with
their event times in input order, so a pacer can keep input order across partitions.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from pump.account.latency import LatencyHistogram
from pump.decode import Decoded
from pump.records import Record


class Pacer(Protocol):
    def pace(self, decoded: Decoded, halted: asyncio.Event) -> AsyncIterator[Decoded]:
        """``decoded`` in pieces, each when it is due; once ``halted`` is set, the rest at once (the chunk is
        finished, so every record read has an outcome and a checkpoint never splits a chunk)."""
        ...


class Unpaced:
    """No pacing: each chunk goes on whole, at once."""

    async def pace(self, decoded: Decoded, halted: asyncio.Event) -> AsyncIterator[Decoded]:
        yield decoded


async def _sleep_unless(seconds: float, halted: asyncio.Event) -> None:
    """Sleeps ``seconds``, or less if the run is halted meanwhile (a first SIGINT stops a long wait at once)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(halted.wait(), seconds)


class Schedule:
    """When pieces of a paced replay are due: ``t0 + offset`` on the loop's clock (never a sleep relative to the
    last piece, so lateness does not add up). A piece due within ``EARLY_ENOUGH`` goes at once. A piece more than
    ``MAX_LATE`` late (a broker that stalled, backpressure) moves the schedule on by its lateness instead of
    sending a burst to catch up; the lateness is kept (``lag``, ``shifted``)."""

    MAX_LATE = 0.1
    EARLY_ENOUGH = 0.002

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float, asyncio.Event], Awaitable[None]] = _sleep_unless,
    ) -> None:
        self.lag = LatencyHistogram()  # how late each piece went, seconds
        self.shifted = 0.0  # seconds the schedule moved on after stalls
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None

    async def wait(self, offset: float, halted: asyncio.Event) -> float:
        """Returns when a piece due ``offset`` seconds after the start may go (at once if ``halted`` is set
        meanwhile): how late it went. The first piece starts the schedule."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now - offset
        due = self._t0 + offset
        late = now - due
        if late < -self.EARLY_ENOUGH:
            await self._sleep(-late, halted)
            late = max(self._clock() - due, 0.0)  # how late the sleep woke
        elif late > self.MAX_LATE:
            self._t0 += late
            self.shifted += late
        late = max(late, 0.0)
        self.lag.record(late, 1)
        return late

    def summary(self) -> tuple[float, float, float, float]:
        """(lag p50 ms, lag p99 ms, lag max ms, seconds the schedule moved on), for the report."""
        lag = self.lag
        ms = [round(x * 1000, 3) for x in (lag.quantile(0.5), lag.quantile(0.99), lag.max)]
        return ms[0], ms[1], ms[2], round(self.shifted, 3)


class RateLimit:
    """At most ``rate`` records a second, smoothly: the reader hands on pieces of about ``PIECE_SECONDS`` worth of
    records, each when it is due on a ``Schedule``: ``records before it / rate`` after the start."""

    PIECE_SECONDS = 0.02

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float, asyncio.Event], Awaitable[None]] = _sleep_unless,
    ) -> None:
        self.rate = rate
        self.piece = max(1, int(rate * self.PIECE_SECONDS))
        self.schedule = Schedule(clock, sleep)
        self._count = 0

    async def wait(self, records: int, halted: asyncio.Event) -> float:
        """Returns when a piece of ``records`` may go (or at once if ``halted`` is set meanwhile): how late it is."""
        late = await self.schedule.wait(self._count / self.rate, halted)
        self._count += records
        return late

    def summary(self) -> tuple[float, float, float, float, float]:
        """(rate, lag p50 ms, lag p99 ms, lag max ms, seconds the schedule moved on), for the report."""
        return self.rate, *self.schedule.summary()


class EventPace:
    """``--speed X``: each record when its event time says, X times faster than it happened.

    On the running maximum of the event times seen (real data is out of order): a record is due when the
    event time the maximum has advanced, divided by X, has passed since the start of a ``Schedule``, so
    lateness never adds up and a stall moves the schedule on rather than causing a burst. A record earlier
    than the maximum goes at once and counts as ``late``; a jump larger than ``max_gap`` seconds of event
    time is not waited for and counts as ``skipped`` (``offset``), so a shuffled file takes no longer than
    the sorted one, and one far-off timestamp neither stalls the run nor leaves the rest of it late. Records
    due within ``EARLY_ENOUGH`` of each other go as one piece (batches stay batches).
    The reader hands on chunks of at most ``PIECE_RECORDS`` records: a first SIGINT ends a wait at once and
    sends the rest of the chunk in hand with it (fewer than that many records), so that every record read has
    an outcome and the checkpoint covers it. A resumed replay starts a new schedule at its position.
    """

    PIECE_RECORDS = 100

    def __init__(
        self,
        speed: float,
        max_gap: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float, asyncio.Event], Awaitable[None]] = _sleep_unless,
        on_lag: Callable[[float], None] | None = None,
        on_counts: Callable[[int, int], None] | None = None,
    ) -> None:
        self.speed = speed
        self.max_gap = max_gap
        self.schedule = Schedule(clock, sleep)
        self.late = 0  # records earlier than an event time already replayed
        self.skipped = 0  # jumps of more than max_gap, not waited for
        self._max: float | None = None  # the running maximum of event times
        self._progress = 0.0  # event seconds the schedule has advanced
        self._ahead = False  # the last record was beyond the maximum by more than max_gap
        self._on_lag = on_lag  # each piece's lateness (metrics)
        self._on_counts = on_counts  # (late, skipped) found in each chunk (metrics)

    def offset(self, t: float) -> float:
        """Seconds after the schedule's start at which a record with event time ``t`` is due (in its turn in input
        order). The schedule advances by the event time the running maximum moves on, up to ``max_gap`` at a time.
        A record more than ``max_gap`` beyond the maximum is skipped: it goes at once and moves nothing, unless the
        record after it is beyond too, when the data has moved on: the maximum follows, without a wait. So one
        far-off timestamp neither stalls the run nor leaves the rest of it late, and the schedule never runs
        longer than the event times' span (a shuffled file is no slower than the sorted one)."""
        top = self._max
        if top is None:
            self._max = t
        elif t > top + self.max_gap:
            if self._ahead:  # a second record in a row beyond the maximum: the data went on there
                self._max = t
            else:
                self.skipped += 1
            self._ahead = True
            return self._progress / self.speed
        elif t > top:
            self._progress += t - top
            self._max = t
        elif t < top:
            self.late += 1
        self._ahead = False
        return self._progress / self.speed

    async def pace(self, decoded: Decoded, halted: asyncio.Event) -> AsyncIterator[Decoded]:
        times = decoded.times
        if not times:
            yield decoded
            return
        late, skipped = self.late, self.skipped
        offsets = [self.offset(t) for _, t in times]  # not decreasing: the maximum only grows
        if self._on_counts is not None:
            self._on_counts(self.late - late, self.skipped - skipped)
        start, n = 0, len(times)
        while start < n:
            end = bisect.bisect_right(offsets, offsets[start] + Schedule.EARLY_ENOUGH, lo=start)
            if not halted.is_set():
                lag = await self.schedule.wait(offsets[start], halted)
                if self._on_lag is not None:
                    self._on_lag(lag)
            if halted.is_set():
                end = n
            yield _piece(decoded, times[start][0], times[end - 1][0], end - start)
            start = end

    def summary(self) -> tuple[float, float, float, float, float, int, int]:
        """(speed, lag p50 ms, lag p99 ms, lag max ms, seconds the schedule moved on, late, skipped), for the report."""
        return self.speed, *self.schedule.summary(), self.late, self.skipped


def _piece(decoded: Decoded, first: int, last: int, count: int) -> Decoded:
    """The records of ``decoded`` on lines ``first`` to ``last``, by partition, in order."""
    if count == decoded.count:
        return decoded
    batches = {}
    for partition, records in decoded.batches.items():
        lo = bisect.bisect_left(records, first, key=_line)
        hi = bisect.bisect_right(records, last, lo=lo, key=_line)
        if hi > lo:
            batches[partition] = records[lo:hi]
    return Decoded(decoded.chunk, batches, count, [], 0)


def _line(record: Record) -> int:
    return record[2]
