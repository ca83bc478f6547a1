"""What a replay's processes and their parent say to each other, and how it is framed.

    child -> parent, on the child's stdout: length-prefixed msgpack frames
        Tick    every quarter second: its ledger so far, the metric calls since the last tick
        Saved   checkpoint positions (every input handled up to there, dead letters durable)
        Done    its report, final ledger and last metric calls; the child then exits
        Failed  the error that stopped it before or outside the run (one line, exit status)
    parent -> child, on the child's stdin
        first the Spec, pickled (it holds the config, secrets too: never on a command line or in the
        environment), then one byte per stop request, the signal's number; end of input means the
        parent is gone, and the child stops as at a first signal

A child's metric calls are the accounts' ``Tally`` calls, replayed in the parent on its one
``Metrics``: counters and histograms come out exactly as one process would have made them.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pump.account import Ledger
from pump.config import ReplayConfig
from pump.errors import PumpError
from pump.input import Position
from pump.observe import Report
from pump.records import Invalid

_LENGTH = struct.Struct(">I")
TALLY_CALLS = frozenset(
    {"read", "decoded", "sent", "acked", "failed", "dead_lettered", "retried", "blocked", "paced", "paced_by_time", "transaction"}
)

Call = tuple[str, list[Any]]


@dataclass(frozen=True)
class Spec:
    """What a child is to do: the run's config, which process of how many it is, where each input resumes."""

    config: ReplayConfig
    part: tuple[int, int]
    resume: dict[str, Position]
    loop: str  # "uvloop" or "asyncio", as the parent runs
    verbose: bool
    metrics: bool  # whether the parent keeps metrics: else the child records no metric calls


class LedgerState(msgspec.Struct, array_like=True):
    """A ``Ledger``'s counts, as they cross from a child to its parent."""

    files: int
    lines: int
    bytes_read: int
    raw_bytes_read: int
    records: int
    blank: int
    invalid: int
    invalid_by_reason: dict[str, int]
    invalid_examples: list[tuple[str, int, int, str, str]]
    sent: int
    acked: int
    bytes_acked: int
    failed: int
    failed_by_reason: dict[str, int]
    dead_lettered: int
    retries: int
    latency: tuple[dict[int, int], int, float]
    blocked_seconds: dict[str, float]
    duration: float


class Tick(msgspec.Struct, tag=True, array_like=True):
    ledger: LedgerState
    calls: list[Call]
    queued: int  # chunks in its queue


class Saved(msgspec.Struct, tag=True, array_like=True):
    positions: dict[str, tuple[int, int, bool]]


class Done(msgspec.Struct, tag=True, array_like=True):
    report: Report
    ledger: LedgerState
    calls: list[Call]


class Failed(msgspec.Struct, tag=True, array_like=True):
    error: bytes  # the PumpError, pickled: it crosses intact (``PumpError.__reduce__``)

    @classmethod
    def of(cls, error: PumpError) -> Failed:
        return cls(pickle.dumps(error))

    def exception(self) -> PumpError:
        error = pickle.loads(self.error)
        return error if isinstance(error, PumpError) else PumpError(str(error))


Message = Tick | Saved | Done | Failed
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def encode(message: Message) -> bytes:
    return frame(_encoder.encode(message))


def decode(payload: bytes) -> Message:
    return _decoder.decode(payload)


def length(header: bytes) -> int:
    return int(_LENGTH.unpack(header)[0])


HEADER = _LENGTH.size


def snapshot(ledger: Ledger) -> LedgerState:
    h = ledger.latency
    examples = [(i.path, i.line, i.offset, i.reason, i.message) for i in ledger.invalid_examples]
    return LedgerState(
        ledger.files, ledger.lines, ledger.bytes_read, ledger.raw_bytes_read, ledger.records, ledger.blank,
        ledger.invalid, dict(ledger.invalid_by_reason), examples, ledger.sent, ledger.acked, ledger.bytes_acked,
        ledger.failed, dict(ledger.failed_by_reason), ledger.dead_lettered, ledger.retries,
        (h.buckets(), h.count, h.max), dict(ledger.blocked_seconds), ledger.duration,
    )  # fmt: skip


def merge(states: Sequence[LedgerState], into: Ledger) -> None:
    """``into`` becomes the run's ledger: each child's latest state added up.

    Every child reads every input (each sends its own partitions), so what was read is the
    most any child read; records, outcomes and their reasons are per child, and add up
    (lines that are not records are counted by one child only). ``into``'s clock is the
    parent's; its duration becomes the longest child's when the run is over (``finish``).
    """
    fresh = Ledger(max_invalid_shown=into.max_invalid_shown, started=into.started, finished=into.finished)
    for s in states:
        fresh.files, fresh.lines = max(fresh.files, s.files), max(fresh.lines, s.lines)
        fresh.bytes_read, fresh.raw_bytes_read = max(fresh.bytes_read, s.bytes_read), max(fresh.raw_bytes_read, s.raw_bytes_read)
        fresh.records += s.records
        fresh.blank += s.blank
        fresh.invalid += s.invalid
        fresh.invalid_by_reason.update(s.invalid_by_reason)
        room = fresh.max_invalid_shown - len(fresh.invalid_examples)
        fresh.invalid_examples.extend(Invalid(*e) for e in s.invalid_examples[: max(room, 0)])  # type: ignore[arg-type]
        fresh.sent += s.sent
        fresh.acked += s.acked
        fresh.bytes_acked += s.bytes_acked
        fresh.failed += s.failed
        fresh.failed_by_reason.update(s.failed_by_reason)
        fresh.dead_lettered += s.dead_lettered
        fresh.retries += s.retries
        fresh.latency.merge(*s.latency)
        fresh.blocked_seconds.update(s.blocked_seconds)
    for f in dataclasses.fields(Ledger):
        setattr(into, f.name, getattr(fresh, f.name))


def longest(states: Sequence[LedgerState]) -> float:
    return max((s.duration for s in states), default=0.0)
