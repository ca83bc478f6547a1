"""Dead letters: where an invalid line or an undeliverable record goes, raw, with why.

``--dead-letter PATH`` appends JSON lines to a file; ``--dead-letter topic:NAME`` produces
them to a Kafka topic. Each entry: file, line, byte offset, reason (a decode reason, or
``delivery``), message and the raw line (``raw``, or ``raw_base64`` if it is not UTF-8).
A dead letter counts as handled only once it is written: flushed (and fsynced before a
checkpoint counts it) for a file, acknowledged for a topic.

``DeadLetterQueue`` does the writing on one background task, in order, so neither the
workers nor the delivery callbacks wait on a slow target; it is bounded, and a failed
write stops it and is reported, never dropped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from pump.config import config_error, verbatim
from pump.errors import PumpError
from pump.records import DeliveryError


class DeadLetter(msgspec.Struct, omit_defaults=True):
    file: str
    line: int
    offset: int
    reason: str
    message: str
    raw: str | None = None
    raw_base64: str | None = None

    @classmethod
    def of(cls, file: str, line: int, offset: int, reason: str, message: str, raw: bytes) -> DeadLetter:
        try:
            return cls(file, line, offset, reason, message, raw=raw.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(file, line, offset, reason, message, raw_base64=base64.b64encode(raw).decode())


_encode = msgspec.json.Encoder().encode


class DeadLetterTarget(Protocol):
    target: str  # as the user named it, for messages

    async def write(self, letters: list[DeadLetter]) -> None:
        """Written (flushed, or acknowledged) when this returns; raises ``OSError`` or ``DeliveryError``."""

    async def sync(self) -> None:
        """Make everything written so far durable (before a checkpoint counts it as handled); raises ``OSError``."""

    async def aclose(self) -> None: ...


class FileDeadLetters:
    """JSON lines appended to a file. Every file operation runs on a thread, off the event loop."""

    def __init__(self, path: str, committed: int | None = None) -> None:
        """``committed``: the size the file had when the positions a run resumes from were committed
        (``--exactly-once``): what was written after it belongs to lines the run reads again, so it is cut off."""
        self.target = path
        try:
            self._file = open(path, "ab")  # noqa: SIM115 - kept open for the run, closed in aclose()
            if committed is not None and self._file.tell() > committed:
                self._file.truncate(committed)
        except OSError as exc:
            raise config_error(f"{{dead_letter}} {verbatim(path)}: {verbatim(exc.strerror or exc)}") from None

    @classmethod
    async def open(cls, path: str, committed: int | None = None) -> FileDeadLetters:
        return await asyncio.to_thread(cls, path, committed)

    def size(self) -> int:
        """The file's size so far (read once every letter is written: ``--exactly-once`` commits it)."""
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    async def write(self, letters: list[DeadLetter]) -> None:
        await asyncio.to_thread(self._write, b"".join(_encode(letter) + b"\n" for letter in letters))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()

    async def sync(self) -> None:
        await asyncio.to_thread(self._sync)

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    async def aclose(self) -> None:
        """Close the file (the accounts made it durable first); a failure here loses nothing already synced."""
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self._file.close)


class TopicSink(Protocol):
    """What ``TopicDeadLetters`` needs of a sink (``pump.output.sink.Sink`` is one)."""

    topic: str
    partitions: int

    async def send(self, key: bytes | None, value: bytes, partition: int, on_done: Callable[[Any], None]) -> None: ...

    def outcome(self, delivery: Any) -> DeliveryError | None: ...


class TopicDeadLetters:
    """Produces dead letters to a topic through a sink of its own, spread over its partitions; waits for the acks."""

    def __init__(self, sink: TopicSink) -> None:
        self.target = f"topic:{sink.topic}"
        self._sink = sink
        self._next = 0

    async def write(self, letters: list[DeadLetter]) -> None:
        loop = asyncio.get_running_loop()
        deliveries: list[asyncio.Future[Any]] = []
        for letter in letters:
            done: asyncio.Future[Any] = loop.create_future()
            await self._sink.send(None, _encode(letter), self._next, done.set_result)
            self._next = (self._next + 1) % max(self._sink.partitions, 1)
            deliveries.append(done)
        for delivery in deliveries:
            error = self._sink.outcome(await delivery)
            if error is not None:
                raise error

    async def sync(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


@dataclass(slots=True)
class Pending:
    """Letters to write, in line order; the chunks' lines they settle once written ``(seq, n)``; their reasons."""

    letters: list[DeadLetter]
    settles: list[tuple[int, int]]
    reasons: Counter[str]


class DeadLetterQueue:
    """Writes dead letters in order on one task (``run``). ``put`` never waits; ``room`` is the backpressure.

    Workers ``await room()`` before putting a chunk's invalid lines (outside their turn, so
    a slow target does not hold up the others until the queue is full); delivery callbacks
    put without waiting (bounded by the records in flight). A failed write ends the queue:
    ``error`` says why, ``on_failed`` is told, and later letters are not written.
    """

    def __init__(
        self,
        target: DeadLetterTarget,
        on_written: Callable[[Pending], None],
        on_failed: Callable[[PumpError], None],
        limit: int = 10_000,
    ) -> None:
        self.target = target
        self.error: PumpError | None = None
        self._on_written = on_written
        self._on_failed = on_failed
        self._limit = limit
        self._pending: deque[Pending] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, pending: Pending) -> None:
        if self.error is not None:
            return
        self._pending.append(pending)
        self._queued += len(pending.letters)
        self._idle.clear()
        self._wake.set()
        if self._queued >= self._limit:
            self._room.clear()

    async def room(self) -> None:
        await self._room.wait()

    async def drain(self) -> None:
        """Wait until every letter put so far is written, or the queue failed."""
        await self._idle.wait()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    pending = self._pending[0]
                    await self.target.write(pending.letters)
                    self._pending.popleft()
                    self._queued -= len(pending.letters)
                    if self._queued < self._limit:
                        self._room.set()
                    self._on_written(pending)
                self._idle.set()
        except (OSError, DeliveryError) as exc:
            self.fail(PumpError(f"cannot write dead letters to {self.target.target}: {exc}"))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.fail(PumpError(f"dead-letter writer stopped: {exc!r}"))
            raise

    def fail(self, error: PumpError) -> None:
        """Nothing more is written; the first error is the one reported (to ``on_failed``)."""
        first = self.error is None
        self.error = self.error or error
        self._pending.clear()
        self._queued = 0
        self._room.set()
        self._idle.set()
        if first:
            self._on_failed(error)
