"""Where every record's fate is decided and recorded.

Workers report decoded chunks; send modes report acknowledged and failed records as
segments ``(chunk, records)``. ``Outcomes`` counts them in the ``Ledger``, writes dead
letters, and settles ``Completion`` only for records that are handled (acknowledged, or
dead-lettered), so checkpoints never run ahead of what really happened.
"""

from __future__ import annotations

import asyncio

from pump.completion import Completion
from pump.deadletter import DeadLetter, DeadLetters
from pump.decode import Decoded, LineIndex, Record
from pump.errors import PumpError
from pump.kafka import DELIVERY_ERRORS
from pump.ledger import Ledger
from pump.source import Chunk

Segment = tuple[Chunk, list[Record]]


class Outcomes:
    def __init__(self, ledger: Ledger, completion: Completion | None = None, dead_letters: DeadLetters | None = None) -> None:
        self.ledger = ledger
        self.completion = completion or Completion()
        self.dead_letters = dead_letters
        self._tasks: set[asyncio.Task[None]] = set()

    async def decoded(self, result: Decoded) -> None:
        self.ledger.decoded(result)
        if result.invalid and self.dead_letters is not None:
            chunk = result.chunk
            lines = LineIndex(chunk)
            letters = [
                DeadLetter.of(chunk.path, i.line, i.offset, i.reason, i.message, lines.raw(i.line)) for i in result.invalid
            ]
            try:
                await self.dead_letters.write(letters)
            except (OSError, *DELIVERY_ERRORS) as exc:
                raise PumpError(f"cannot write dead letters to {self.dead_letters.target}: {exc}") from None
            self.ledger.dead_lettered += len(letters)
        self.completion.decoded(result.chunk.seq, result.record_count)

    def sent(self, n: int) -> None:
        self.ledger.records_sent(n)

    def blocked(self, stage: str, seconds: float) -> None:
        self.ledger.blocked(stage, seconds)

    def acked(self, segments: list[Segment], nbytes: int, latency: float) -> None:
        self.ledger.records_acked(sum(len(recs) for _, recs in segments), nbytes, latency)
        for chunk, recs in segments:
            self.completion.settled(chunk.seq, len(recs))

    def acked_one(self, chunk: Chunk, nbytes: int, latency: float) -> None:
        """``acked`` for one record: the per-record modes' hot path, without building segments."""
        self.ledger.records_acked(1, nbytes, latency)
        self.completion.settled(chunk.seq, 1)

    def failed(self, segments: list[Segment], reason: str, message: str) -> None:
        """Failed after the producer's retries. Dead-lettered if there is a target; else left unhandled."""
        self.ledger.records_failed(sum(len(recs) for _, recs in segments), reason)
        if self.dead_letters is not None:
            task = asyncio.get_running_loop().create_task(self._dead_letter(segments, f"{reason}: {message}"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dead_letter(self, segments: list[Segment], message: str) -> None:
        assert self.dead_letters is not None
        letters = []
        for chunk, recs in segments:
            lines = LineIndex(chunk)
            letters += [
                DeadLetter.of(chunk.path, line, lines.of(line), "delivery", message, lines.raw(line)) for _, _, line in recs
            ]
        try:
            await self.dead_letters.write(letters)
        except (OSError, *DELIVERY_ERRORS):
            self.ledger.dead_letter_failures += len(letters)
            return
        self.ledger.dead_lettered += len(letters)
        for chunk, recs in segments:
            self.completion.settled(chunk.seq, len(recs))

    async def drain(self) -> None:
        """Wait for dead letters still being written."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))
