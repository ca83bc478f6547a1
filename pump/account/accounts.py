"""Accounting: the one object that decides every line's fate, and from there counts it,
feeds the metrics, writes its dead letter and moves the completion low-water mark.

The reader reports chunks, the workers decoded chunks, the send modes acknowledged and
failed records (as segments ``(chunk, lines)``: a batch keeps only its records' lines, so their values are freed
once they are in it), the sink retries. ``Accounts`` counts
them in the ``Ledger``, tells the ``Tally`` (Prometheus metrics, when they are on),
queues dead letters, and settles ``Completion`` only for lines that are handled
(acknowledged, or dead-lettered once written), so a checkpoint never runs ahead of what
really happened. Counting is per chunk or per batch (per record only in the per-record modes).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from pump.account.completion import Completion
from pump.account.deadletters import DeadLetter, DeadLetterQueue, DeadLetterTarget, Pending
from pump.account.ledger import Ledger
from pump.decode import Decoded
from pump.decode.lines import LineIndex
from pump.decode.parsed import Lines
from pump.errors import BrokerError, PumpError
from pump.input import Position
from pump.input.source import FileId, Read
from pump.records import FATAL_REASONS

Segment = tuple[Lines, Sequence[int]]  # a chunk's records by their lines


class Tally(Protocol):
    """What watches the accounts change (``pump.observe.metrics.Metrics``). Called per chunk or per batch."""

    def read(self, fmt: str, lines: int, raw_bytes: int) -> None: ...
    def decoded(self, fmt: str, records: int, invalid: Counter[str]) -> None: ...
    def sent(self, n: int) -> None: ...
    def acked(self, n: int, nbytes: int, latency: float) -> None: ...
    def failed(self, n: int, reason: str) -> None: ...
    def dead_lettered(self, n: int, reason: str) -> None: ...
    def retried(self) -> None: ...
    def blocked(self, stage: str, seconds: float) -> None: ...
    def paced(self, lag: float) -> None: ...
    def paced_by_time(self, late: int, skipped: int) -> None: ...


def counting_retries(ledger: Ledger, tally: Tally | None) -> Callable[[], None]:
    """What counts each produce retry a sink's client makes: before the accounts exist, where the sink comes first."""

    def retried() -> None:
        ledger.retries += 1
        if tally is not None:
            tally.retried()

    return retried


class Accounts:
    """Use as ``async with Accounts(...) as accounts``: the dead-letter writer runs for the block's duration."""

    def __init__(
        self,
        ledger: Ledger,
        completion: Completion,
        dead_letters: DeadLetterTarget | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.ledger = ledger
        self.completion = completion
        self.tally = tally
        self.retried = counting_retries(ledger, tally)  # the producer retried a send after a retriable error
        self.dead_letters = DeadLetterQueue(dead_letters, self._written, self._break) if dead_letters is not None else None
        self._writer: asyncio.Task[None] | None = None
        self._error: PumpError | None = None  # the first reason the run cannot go on
        self._broken = asyncio.Event()

    async def __aenter__(self) -> Accounts:
        if self.dead_letters is not None:
            self._writer = asyncio.create_task(self.dead_letters.run(), name="pump-dead-letters")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self.dead_letters is not None:
            await self.dead_letters.target.aclose()

    @property
    def error(self) -> PumpError | None:
        """Why the run cannot go on (a fatal delivery failure, a dead letter that could not be written), if so."""
        return self._error

    async def broken(self) -> None:
        """Returns once the run cannot go on; never returns while it can."""
        await self._broken.wait()

    def _break(self, error: PumpError) -> None:
        self._error = self._error or error
        self._broken.set()

    # input

    def start(self) -> None:
        """The run's clock starts (after connecting: set-up is not counted in the rates)."""
        self.ledger.started = time.perf_counter()

    def file_opened(self, path: str | None = None, start: Position | None = None) -> None:
        """A file is begun; ``start``: where (a followed file resumed from an earlier run's positions)."""
        self.ledger.files += 1
        if path is not None and start is not None:
            self.completion.resumed(path, start)

    def read(self, chunk: Read) -> None:
        led = self.ledger
        led.bytes_read += chunk.text_bytes
        led.raw_bytes_read += chunk.raw_bytes
        led.lines += chunk.lines
        self.completion.read(chunk)
        if self.tally is not None:
            self.tally.read(chunk.format, chunk.lines, chunk.raw_bytes)

    def file_done(self, path: str, file: FileId | None = None) -> None:
        self.completion.file_done(path, file)

    def paced(self, lag: float) -> None:
        """A paced piece of records went ``lag`` seconds late (``--rate``, ``--speed``)."""
        if self.tally is not None:
            self.tally.paced(lag)

    def paced_by_time(self, late: int, skipped: int) -> None:
        """``--speed``: more records found late (earlier than one replayed) and event-time gaps skipped."""
        if self.tally is not None and (late or skipped):
            self.tally.paced_by_time(late, skipped)

    def blocked(self, stage: str, seconds: float) -> None:
        """Time spent waiting on backpressure: ``queue`` (reader) or ``in_flight`` (sender)."""
        self.ledger.blocked_seconds[stage] += seconds
        if self.tally is not None:
            self.tally.blocked(stage, seconds)

    # decode

    async def room_for(self, decoded: Decoded) -> None:
        """Wait until the dead-letter queue can take this chunk's invalid lines (its backpressure)."""
        if decoded.invalid and self.dead_letters is not None:
            await self.dead_letters.room()

    def decoded(self, decoded: Decoded) -> None:
        led, chunk, invalid = self.ledger, decoded.chunk, decoded.invalid
        led.records += decoded.count
        led.blank += decoded.blank
        reasons: Counter[str] = Counter(i.reason for i in invalid) if invalid else Counter()
        if invalid:
            led.invalid += len(invalid)
            led.invalid_by_reason.update(reasons)
            room = led.max_invalid_shown - len(led.invalid_examples)
            if room > 0:
                led.invalid_examples.extend(invalid[:room])
        if self.tally is not None:
            self.tally.decoded("parquet" if chunk.rows else chunk.format, decoded.count, reasons)  # rows: Parquet's
        queued = 0
        if invalid and self.dead_letters is not None:  # held until written: a checkpoint never skips them
            lines = LineIndex(chunk)
            letters = [DeadLetter.of(chunk.path, i.line, i.offset, i.reason, i.message, lines.raw(i.line)) for i in invalid]
            self.dead_letters.put(Pending(letters, [(chunk.seq, len(letters))], reasons))
            queued = len(invalid)
        self.completion.decoded(chunk.seq, decoded.count + queued)

    # delivery

    def sent(self, n: int) -> None:
        self.ledger.sent += n
        if self.tally is not None:
            self.tally.sent(n)

    def acked(self, segments: list[Segment], nbytes: int, latency: float) -> None:
        n = sum(len(lines) for _, lines in segments)
        self._acked(n, nbytes, latency)
        for chunk, lines in segments:
            self.completion.settled(chunk.seq, len(lines))

    def acked_one(self, chunk: Lines, nbytes: int, latency: float) -> None:
        """``acked`` for one record: the per-record modes' hot path, without building segments."""
        self._acked(1, nbytes, latency)
        self.completion.settled(chunk.seq, 1)

    def _acked(self, n: int, nbytes: int, latency: float) -> None:
        led = self.ledger
        led.acked += n
        led.bytes_acked += nbytes
        led.latency.record(latency, n)
        if self.tally is not None:
            self.tally.acked(n, nbytes, latency)

    def failed(self, segments: list[Segment], reason: str, message: str) -> None:
        """Failed after the producer's retries. Dead-lettered if there is a target; else left unhandled."""
        n = sum(len(lines) for _, lines in segments)
        self.ledger.failed += n
        self.ledger.failed_by_reason[reason] += n
        if self.tally is not None:
            self.tally.failed(n, reason)
        if reason in FATAL_REASONS:
            self._break(BrokerError(message))
        if self.dead_letters is None:
            return
        letters = []
        text = f"{reason}: {message}"
        for chunk, lines in segments:
            index = LineIndex(chunk)
            letters += [DeadLetter.of(chunk.path, line, index.of(line), "delivery", text, index.raw(line)) for line in lines]
        self.dead_letters.put(Pending(letters, [(chunk.seq, len(lines)) for chunk, lines in segments], Counter(delivery=n)))

    def _written(self, pending: Pending) -> None:
        self.ledger.dead_lettered += len(pending.letters)
        if self.tally is not None:
            for reason, n in pending.reasons.items():
                self.tally.dead_lettered(n, reason)
        for seq, n in pending.settles:
            self.completion.settled(seq, n)

    # the end

    async def handled(self) -> dict[str, Position] | None:
        """Where every input is handled up to, with the dead letters that counts on made durable.

        ``None`` when they cannot be made durable: then no checkpoint may claim them (and the run stops).
        """
        positions = dict(self.completion.positions)  # first: letters written after this do not count
        return positions if await self._durable() else None

    async def _durable(self) -> bool:
        queue = self.dead_letters
        if queue is None:
            return True
        try:
            await queue.target.sync()
        except OSError as exc:
            queue.fail(PumpError(f"cannot make dead letters durable in {queue.target.target}: {exc}"))
            return False
        return True  # letters not written (the queue may have failed) settle nothing, so claim nothing

    async def drain(self) -> None:
        """Wait for the dead letters still being written, and make them durable."""
        if self.dead_letters is not None:
            await self.dead_letters.drain()
            await self._durable()

    def finish(self) -> None:
        self.ledger.finished = time.perf_counter()
