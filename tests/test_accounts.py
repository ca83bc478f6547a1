"""Accounting: every line's fate is counted once, dead letters are written off the hot path, and a
checkpoint never claims a line before its dead letter is written and durable."""

from __future__ import annotations

import asyncio
import collections

import pytest

from pump.account import Accounts, Completion, Ledger
from pump.account.deadletters import DeadLetter
from pump.decode import Decoded
from pump.input import Chunk
from pump.records import Invalid
from tests.support.builders import chunk


class Target:
    """A dead-letter target that records writes; ``gate`` holds them, ``broken`` fails them."""

    def __init__(self, broken: OSError | None = None) -> None:
        self.target = "memory"
        self.written: list[DeadLetter] = []
        self.syncs = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.broken = broken

    async def write(self, letters: list[DeadLetter]) -> None:
        await self.gate.wait()
        if self.broken:
            raise self.broken
        self.written += letters

    async def sync(self) -> None:
        self.syncs += 1

    async def aclose(self) -> None:
        return None


class Tally:
    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def record(*args: object) -> None:
            self.calls[name] += 1

        return record


def decoded(c: Chunk, records: int, invalid: list[Invalid]) -> Decoded:
    recs = [(None, b"v", c.first_line + i) for i in range(records)]
    return Decoded(c, {0: recs} if recs else {}, records, invalid, 0)


async def test_failed_records_are_dead_lettered_then_settled_and_counted_once() -> None:
    target = Target()
    tally = Tally()
    async with Accounts(Ledger(), Completion(), target, tally) as accounts:
        c = chunk(b'{"a":1}\n{"a":2}\n')
        accounts.read(c)
        accounts.decoded(decoded(c, 2, []))
        accounts.sent(2)
        target.gate.clear()
        accounts.failed([(c, [2])], "timeout", "no answer")
        accounts.acked([(c, [1])], 7, 0.01)
        await asyncio.sleep(0.01)
        assert "in.jsonl" not in accounts.completion.positions  # the dead letter is not written yet
        target.gate.set()
        await accounts.drain()
        positions = await accounts.handled()
    assert positions is not None and positions["in.jsonl"].offset == len(c.data)
    [letter] = target.written
    assert (letter.line, letter.offset, letter.reason, letter.message, letter.raw) == (
        2,
        8,
        "delivery",
        "timeout: no answer",
        '{"a":2}',
    )
    led = accounts.ledger
    assert (led.sent, led.acked, led.failed, led.dead_lettered, led.unhandled, led.in_flight) == (2, 1, 1, 1, 0, 0)
    assert tally.calls["dead_lettered"] == 1 and tally.calls["failed"] == 1


async def test_invalid_lines_wait_for_their_dead_letters_before_the_checkpoint_passes_them() -> None:
    target = Target()
    async with Accounts(Ledger(), Completion(), target) as accounts:
        c = chunk(b"ok\nbad\n")
        accounts.read(c)
        target.gate.clear()
        accounts.decoded(decoded(c, 1, [Invalid("in.jsonl", 2, 3, "json", "broken")]))
        accounts.acked([(c, [1])], 2, 0.01)
        await asyncio.sleep(0.01)
        assert "in.jsonl" not in accounts.completion.positions
        target.gate.set()
        await accounts.drain()
    assert accounts.completion.positions["in.jsonl"].offset == len(c.data)
    assert [(x.line, x.reason, x.raw) for x in target.written] == [(2, "json", "bad")]


async def test_without_dead_letters_invalid_lines_are_reported_and_passed_but_failed_records_hold_the_checkpoint() -> None:
    async with Accounts(Ledger(), Completion()) as accounts:
        c = chunk(b"ok\nbad\nlost\n")
        accounts.read(c)
        accounts.decoded(decoded(c, 2, [Invalid("in.jsonl", 2, 3, "json", "broken")]))
        accounts.acked([(c, [1])], 2, 0.01)
        accounts.failed([(c, [3])], "broker", "no")
    assert "in.jsonl" not in accounts.completion.positions
    assert (accounts.ledger.invalid, accounts.ledger.failed, accounts.ledger.unhandled) == (1, 1, 2)


async def test_a_failed_dead_letter_write_breaks_the_accounts_loudly_and_settles_nothing() -> None:
    target = Target(broken=OSError(28, "No space left on device"))
    async with Accounts(Ledger(), Completion(), target) as accounts:
        c = chunk(b"bad\n")
        accounts.read(c)
        accounts.decoded(decoded(c, 0, [Invalid("in.jsonl", 1, 0, "json", "broken")]))
        await asyncio.wait_for(accounts.broken(), 1)
        await accounts.drain()
        assert str(accounts.error) == "cannot write dead letters to memory: [Errno 28] No space left on device"
        accounts.failed([(c, [1])], "broker", "no")  # later letters are not even queued
    assert "in.jsonl" not in accounts.completion.positions and accounts.ledger.dead_lettered == 0


async def test_a_slow_dead_letter_target_pushes_back_only_when_its_queue_is_full() -> None:
    target = Target()
    target.gate.clear()
    async with Accounts(Ledger(), Completion(), target) as accounts:
        assert accounts.dead_letters is not None
        accounts.dead_letters._limit = 3
        for seq in range(3):
            c = chunk(b"bad\n", seq=seq)
            accounts.read(c)
            d = decoded(c, 0, [Invalid("in.jsonl", 1, 0, "json", "broken")])
            await asyncio.wait_for(accounts.room_for(d), 1)  # room for the first three
            accounts.decoded(d)
        waiting = asyncio.create_task(accounts.room_for(d))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # three letters queued: the fourth chunk waits
        target.gate.set()
        await asyncio.wait_for(waiting, 1)
        await accounts.drain()
    assert accounts.ledger.dead_lettered == 3


@pytest.mark.parametrize(("stage", "seconds"), [("queue", 0.5), ("in_flight", 1.25)])
async def test_backpressure_is_counted_once_where_the_report_reads_it(stage: str, seconds: float) -> None:
    tally = Tally()
    accounts = Accounts(Ledger(), Completion(), None, tally)
    accounts.blocked(stage, seconds)
    assert accounts.ledger.blocked_seconds == {stage: seconds} and tally.calls["blocked"] == 1
