"""One process of a replay in several (``python -m pump.cli.child``, started by ``pump.parallel.parent``): like
``pump replay``, but its orders come from its parent on stdin, and its report goes back there.

It reads its ``Spec`` from stdin, runs ``pump.runner.replay_part`` (its share of the
partitions, its own producer, made here, after the start), and tells its parent
everything on its stdout (``pump.parallel.wire``): ticks with its counts and metric
calls, checkpoint positions, and at the end its report, or the error that stopped it.

It ignores SIGINT and SIGTERM: a terminal's Ctrl-C reaches the whole process group, and
the parent decides (a byte on stdin per stop request, the signal's number; end of stdin,
the parent is gone: stop as at a first signal). So every stop is the parent's, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO

from pump.account import Ledger
from pump.errors import PumpError
from pump.input import Position
from pump.parallel import wire
from pump.parallel.wire import Call, Done, Failed, Saved, Spec, Tick
from pump.runner import replay_part
from pump.signals import Handler

TICK_SECONDS = 0.25


class Channel:
    """Frames to the parent, from the event loop and from the checkpoint thread alike (one lock)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: wire.Message) -> None:
        data = wire.encode(message)
        with self._lock:
            self._out.write(data)
            self._out.flush()


class Recorder:
    """The run's metrics, recorded as calls for the parent to make (``pump.runner.Watch``)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._queued: Callable[[], float] = lambda: 0

    def begin(
        self,
        input_size: int | None,
        queue: tuple[int, Callable[[], float]],
        in_flight: tuple[int, Callable[[], float]],
        rate: float | None = None,
        live: Any = None,
    ) -> None:
        self._queued = queue[1]

    def finish(self) -> None:
        return None

    def queued(self) -> int:
        return int(self._queued())

    def drain(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls

    def read(self, fmt: str, lines: int, raw_bytes: int) -> None:
        self.calls.append(("read", [fmt, lines, raw_bytes]))

    def decoded(self, fmt: str, records: int, invalid: Any) -> None:
        self.calls.append(("decoded", [fmt, records, dict(invalid)]))

    def sent(self, n: int) -> None:
        self.calls.append(("sent", [n]))

    def acked(self, n: int, nbytes: int, latency: float) -> None:
        self.calls.append(("acked", [n, nbytes, latency]))

    def failed(self, n: int, reason: str) -> None:
        self.calls.append(("failed", [n, reason]))

    def dead_lettered(self, n: int, reason: str) -> None:
        self.calls.append(("dead_lettered", [n, reason]))

    def retried(self) -> None:
        self.calls.append(("retried", []))

    def blocked(self, stage: str, seconds: float) -> None:
        self.calls.append(("blocked", [stage, seconds]))

    def paced(self, lag: float) -> None:
        self.calls.append(("paced", [lag]))

    def transaction(self, outcome: str, seconds: float) -> None:
        self.calls.append(("transaction", [outcome, seconds]))


class Forward:
    """The checkpoint's ``Saver``: positions go to the parent, which keeps the one file."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def save(self, positions: dict[str, Position]) -> None:
        self._channel.send(Saved({path: (p.offset, p.line, p.done) for path, p in positions.items()}))


class Commands:
    """The parent's stop requests, as ``pump.signals.Controls`` (``Signals``' counterpart in a child)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._handlers: tuple[Handler, Handler] | None = None
        self._early: asyncio.Task[Any] | None = None

    def before_run(self, task: asyncio.Task[Any]) -> None:
        """Until the run starts (connecting, say), a stop request cancels ``task``: nothing was read yet."""
        self._early = task

    @contextlib.contextmanager
    def controls(self, first: Handler, second: Handler) -> Any:
        self._handlers, self._early = (first, second), None
        try:
            yield self
        finally:
            self._handlers = None

    def request(self, signum: int) -> None:
        self.received.append(signum)
        if self._handlers is not None:
            self._handlers[0 if len(self.received) == 1 else 1](signum)
        elif self._early is not None:
            self._early.cancel()

    async def listen(self, stdin: asyncio.StreamReader) -> None:
        while data := await stdin.read(64):
            for signum in data:
                self.request(signum)
        if not self.received:  # the parent is gone: stop cleanly, as at a first signal
            self.request(signal.SIGTERM)


@contextlib.asynccontextmanager
async def _stdin() -> AsyncIterator[asyncio.StreamReader]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        yield reader
    finally:
        transport.close()


@contextlib.asynccontextmanager
async def _ticking(channel: Channel, ledger: Ledger, recorder: Recorder) -> AsyncIterator[None]:
    async def tick() -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            channel.send(Tick(wire.snapshot(ledger), recorder.drain(), recorder.queued()))

    task = asyncio.create_task(tick(), name="pump-child-tick")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run(spec: Spec, channel: Channel) -> None:
    ledger = Ledger(max_invalid_shown=spec.config.observe.max_invalid_shown)
    recorder = Recorder()
    commands = Commands()
    task = asyncio.current_task()
    assert task is not None
    commands.before_run(task)
    async with _stdin() as stdin:
        listener = asyncio.create_task(commands.listen(stdin), name="pump-child-commands")
        try:
            await _replay(spec, channel, ledger, recorder, commands)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


async def _replay(spec: Spec, channel: Channel, ledger: Ledger, recorder: Recorder, commands: Commands) -> None:
    task = asyncio.current_task()
    assert task is not None
    try:
        async with _ticking(channel, ledger, recorder):
            watch = recorder if spec.metrics else None
            report = await replay_part(spec.config, spec.part, spec.resume, ledger, watch, Forward(channel), commands.controls)
    except PumpError as exc:
        channel.send(Failed.of(exc))
        return
    except asyncio.CancelledError:
        if not commands.received:
            raise
        task.uncancel()  # stopped before the run started: nothing was read, there is nothing to report
        return
    channel.send(Done(report, wire.snapshot(ledger), recorder.drain()))


def _read(n: int) -> bytes:
    """Exactly ``n`` bytes of stdin, unbuffered: what follows the spec (stop requests) stays for ``Commands``."""
    data = b""
    while len(data) < n:
        more = os.read(0, n - len(data))
        if not more:
            raise SystemExit(0)  # the parent went away before saying what to do
        data += more
    return data


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr: stdout carries only frames
    spec: Spec = pickle.loads(_read(wire.length(_read(wire.HEADER))))
    from pump.cli import configure_logging
    from pump.cli.commands import run_loop
    from pump.cli.tuning import tune_gc

    configure_logging(spec.verbose)
    tune_gc()
    with out:
        run_loop(_run(spec, Channel(out)), spec.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
