"""A progress line on stderr while a replay runs: bytes done of total, rate, ETA (for followed inputs: "following", bytes
behind, files). Off unless stderr is a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import TextIO

from pump.account import Ledger
from pump.input.follow import LiveStats


def render(done: int, total: int | None, records: int, elapsed: float, live: LiveStats | None = None) -> str:
    rate = records / elapsed if elapsed > 0 else 0.0
    mb = done / 1e6
    if live is not None:  # it grows: no ETA
        idle = max(time.monotonic() - live.last_read, 0.0)
        return (
            f"following  {mb:,.1f} MB  {records:,} records  {rate:,.0f} rec/s  {live.bytes_behind() / 1e6:,.1f} MB behind"
            f"  {live.finished} files finished, {live.pending} pending  last record {idle:,.0f}s ago"
        )
    if total:
        frac = min(done / total, 1.0)
        bar = "#" * int(frac * 24)
        eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
        return f"[{bar:<24}] {frac:6.1%} {mb:,.1f}/{total / 1e6:,.1f} MB  {rate:,.0f} rec/s  ETA {eta:,.0f}s"
    return f"{mb:,.1f} MB  {records:,} records  {rate:,.0f} rec/s"


class Progress:
    def __init__(
        self,
        ledger: Ledger,
        total: int | None,
        enabled: bool = True,
        stream: TextIO | None = None,
        period: float = 0.5,
        live: LiveStats | None = None,
    ) -> None:
        self.ledger = ledger
        self.live = live
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.period = period
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="pump-progress")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        led = self.ledger
        line = render(led.raw_bytes_read, self.total, led.acked, time.perf_counter() - led.started, self.live)
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()

    async def _loop(self) -> None:
        while True:
            self._draw()
            await asyncio.sleep(self.period)
