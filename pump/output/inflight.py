"""Explicit backpressure on the output side: a bound on records in flight."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class InFlight:
    """A counting bound on records sent but not yet acknowledged.

    ``acquire(n)`` waits while the bound would be exceeded (a request larger
    than the bound waits for the pipe to empty, then goes alone). Every wait's
    length goes to ``on_wait``, so backpressure is observable (the accounts count it).
    """

    def __init__(self, limit: int, on_wait: Callable[[float], None] | None = None) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._on_wait = on_wait
        self.used = 0
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
            if self._on_wait is not None:
                self._on_wait(time.perf_counter() - start)

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
