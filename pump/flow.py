"""Explicit backpressure: a bound on records in flight, and in-order hand-off between workers."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class InFlight:
    """A counting bound on records sent but not yet acknowledged.

    ``acquire(n)`` waits while the bound would be exceeded (a request larger
    than the bound waits for the pipe to empty, then goes alone). Time spent
    waiting is kept in ``blocked_seconds`` so backpressure is observable.
    """

    def __init__(self, limit: int, on_blocked: Callable[[float], None] | None = None) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._on_blocked = on_blocked
        self.used = 0
        self.blocked_seconds = 0.0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._idle: asyncio.Event | None = None

    async def acquire(self, n: int) -> None:
        n = min(n, self.limit)
        if not self._waiters and self.used + n <= self.limit:
            self.used += n
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (n, fut)
        self._waiters.append(entry)
        start = time.perf_counter()
        try:
            await fut
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
            elif fut.done() and not fut.cancelled():
                self.release(n)  # granted just as we were cancelled: give it back
            raise
        finally:
            waited = time.perf_counter() - start
            self.blocked_seconds += waited
            if self._on_blocked is not None:
                self._on_blocked(waited)

    def release(self, n: int) -> None:
        self.used -= min(n, self.limit)
        while self._waiters and self.used + self._waiters[0][0] <= self.limit:
            want, fut = self._waiters.popleft()
            if not fut.done():
                self.used += want
                fut.set_result(None)
        if self.used == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        while self.used:
            self._idle = asyncio.Event()
            await self._idle.wait()


class Sequencer:
    """Lets workers that decode chunks concurrently hand them on strictly in chunk order."""

    def __init__(self) -> None:
        self._next = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}

    async def turn(self, seq: int) -> None:
        if seq == self._next:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[seq] = fut
        try:
            await fut
        finally:
            self._waiters.pop(seq, None)

    def done(self, seq: int) -> None:
        self._next = seq + 1
        fut = self._waiters.get(self._next)
        if fut is not None and not fut.done():
            fut.set_result(None)
