"""What flows between the stages: records, invalid lines, and the fixed sets of reasons.

A ``Record`` is ``(key, value, line)``: the message key (``None`` for an unkeyed record;
``b""`` is a key, the empty one), the value bytes, and the input line it came from.
It is a plain tuple on purpose: it is the one object pump makes per input record,
and a tuple is the cheapest to make, to unpack and to ship between processes
(measured here for 1M records: a NamedTuple costs 6x a tuple to construct, a
msgspec Struct 6x to pickle). Code reads it by unpacking, ``key, value, line = rec``.

Reasons are small closed sets, so that reports and metric labels stay bounded:
``INVALID_REASONS`` for lines that are not records, ``FAILURE_REASONS`` for records
the broker did not take, ``DEAD_LETTER_REASONS`` for what a dead letter says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Record = tuple[bytes | None, bytes, int]
ByPartition = dict[int, list[Record]]

InvalidReason = Literal["json", "not_object", "schema", "key", "csv", "encoding", "time"]
INVALID_REASONS: tuple[InvalidReason, ...] = ("json", "not_object", "schema", "key", "csv", "encoding", "time")

FailureReason = Literal["timeout", "too_large", "not_enough_replicas", "not_authorized", "connection", "broker", "other"]
FAILURE_REASONS: tuple[FailureReason, ...] = (
    "timeout",
    "too_large",
    "not_enough_replicas",
    "not_authorized",
    "connection",
    "broker",
    "other",
)
#: Failures that no later record can escape either: the run stops (status 2) instead of failing record after record.
FATAL_REASONS: frozenset[str] = frozenset({"not_authorized"})

DEAD_LETTER_REASONS: tuple[str, ...] = (*INVALID_REASONS, "delivery")


class DeliveryError(Exception):
    """A record (or a batch) the broker did not take, after the producer's own retries.

    Sinks translate their client's errors into this at their boundary, so nothing past
    them knows which client they use. ``reason`` is one of ``FAILURE_REASONS``; a
    ``timeout`` means the outcome is unknown, not that the record was lost.
    """

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[FailureReason, str]]:
        return (type(self), (self.reason, self.message))


@dataclass(slots=True)
class Invalid:
    """A line that is not a record, and why. ``reason`` is one of ``INVALID_REASONS``."""

    path: str
    line: int
    offset: int
    reason: InvalidReason
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"
