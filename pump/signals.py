"""SIGINT/SIGTERM while a replay runs: the first stops it cleanly, a second aborts it at once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int], None]


class Received(Protocol):
    received: list[int]


#: How a run learns it should stop: ``controls(first, second)`` is a context manager whose ``received`` lists the
#: stop requests (signal numbers) seen; ``Signals`` here, or a process's parent (``pump.cli.child``).
Controls = Callable[[Handler, Handler], AbstractContextManager[Received]]


class Signals:
    """``with Signals(enabled, first, second)``: the first signal calls ``first(signum)``, any later one ``second(signum)``.

    Handlers are installed on the running loop only when ``enabled`` (the command line's
    choice: a library caller's application owns its signals) and removed on exit.
    """

    def __init__(self, enabled: bool, first: Handler, second: Handler) -> None:
        self.enabled = enabled
        self._first = first
        self._second = second
        self.received: list[int] = []

    def handle(self, signum: int) -> None:
        self.received.append(signum)
        (self._first if len(self.received) == 1 else self._second)(signum)

    def __enter__(self) -> Signals:
        if self.enabled:
            loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                loop.add_signal_handler(sig, self.handle, sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
