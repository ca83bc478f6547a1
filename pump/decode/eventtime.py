"""Each record's event time (``--time-field``), read from its JSON value where records are decoded.

Read in the decode stage, so that a record whose field is missing, null or not a time is an
invalid line with reason ``time`` (its file and line, a dead letter) like any other bad line,
and the rest go on. How a value is read:

- text: ISO 8601 (``2025-11-01T00:05:00``, ``...Z``, ``...+01:00``, fractions) and the
  ``yyyy-MM-dd HH:mm:ss[.fff]`` form of the TLC's CSV files, both as ``datetime.fromisoformat``
  reads them; a time without a zone is taken as UTC (as pandas' ``Timestamp.timestamp()`` does);
- a number: epoch milliseconds (what ``--datetime epoch-ms`` writes; epoch microseconds when the
  run writes ``--datetime epoch-us``);
- anything else (a bool, an object, text of another form): not a time.

Times are float seconds since the epoch, a record's kept beside its line number (``Decoded.times``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from pump.decode.lines import LineIndex
from pump.decode.parsed import Parsed
from pump.input import Chunk
from pump.records import Invalid


class EventTimes:
    def __init__(self, field: str, epoch_unit: float = 1e-3) -> None:
        self.field = field
        self._unit = epoch_unit
        only = msgspec.defstruct("EventTimeOnly", [("value", Any, None)], rename={"value": field})
        self._decode = msgspec.json.Decoder(only).decode
        self._missing = f"--time-field {field!r} is missing or null"

    def __reduce__(self) -> tuple[type[EventTimes], tuple[str, float]]:  # to decode processes: made again there
        return EventTimes, (self.field, self._unit)

    def seconds(self, value: Any) -> float | None:
        """``value`` as seconds since the epoch, or None if it is not a time."""
        kind = type(value)
        if kind is str:
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return None
            return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()
        if kind is int or kind is float:
            return value * self._unit if math.isfinite(value) else None
        return None

    def read(self, parsed: Parsed, chunk: Chunk) -> list[tuple[int, float]]:
        """(line, event time) of each record, in input order; a record without one leaves ``parsed.records`` for
        ``parsed.invalid``, with reason ``time``."""
        times: list[tuple[int, float]] = []
        kept = []
        bad: list[Invalid] = []
        offsets = LineIndex(chunk)
        for record in parsed.records:
            line = record[2]
            try:
                value = self._decode(record[1]).value
            except msgspec.DecodeError:  # a record's value is a JSON object here: a record of another shape
                value = None
            seconds = self.seconds(value)
            if seconds is None:
                said = self._missing if value is None else f"--time-field {self.field!r}: {_short(value)} is not a time"
                bad.append(Invalid(chunk.path, line, offsets.of(line), "time", said))
                continue
            kept.append(record)
            times.append((line, seconds))
        if bad:
            parsed.records = kept
            parsed.invalid = sorted([*parsed.invalid, *bad], key=lambda i: i.line)
        return times


def _short(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."


class Stamper:
    """``--record-timestamp event|shifted``: each record's Kafka timestamp (epoch ms) from its event time. ``event``:
    the time itself; ``shifted``: moved so that the run's first record is stamped now, the gaps between records
    kept (old event times otherwise meet time-based retention, and brokers that refuse timestamps far from now)."""

    def __init__(self, how: Literal["event", "shifted"], clock: Callable[[], float] = time.time) -> None:
        self.how = how
        self._clock = clock
        self._shift: float | None = None if how == "shifted" else 0.0

    def stamps(self, times: list[tuple[int, float]] | None) -> dict[int, int] | None:
        """Line -> timestamp of a chunk's records (``Decoded.times``)."""
        if not times:
            return None
        if self._shift is None:
            self._shift = self._clock() - times[0][1]
        shift = self._shift
        return {line: round((t + shift) * 1000) for line, t in times}
