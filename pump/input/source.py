"""What every input is to the rest of pump: a ``Source`` that yields ``Chunk``s from a ``Position``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec

RecordFormat = Literal["csv", "jsonl"]


@dataclass(slots=True)
class Position:
    """Everything before ``offset`` (uncompressed bytes; rows of a Parquet file) is handled; ``line`` is the next
    line's (row's) number."""

    offset: int
    line: int
    done: bool = False


START = Position(0, 1)


@dataclass(slots=True)
class Chunk:
    """Whole records of one input. ``data`` never ends inside a line or a quoted CSV field."""

    path: str
    format: RecordFormat
    header: tuple[str, ...] | None
    first_line: int
    offset: int
    data: bytes
    raw_bytes: int  # bytes read from the source for this chunk (compressed, if it is)
    lines: int = 0  # physical lines in ``data``, counted once here
    seq: int = 0  # the chunk's place in the whole run's input order, set by the reader
    rows: bool = False  # offsets count rows, not bytes (a Parquet file's JSON lines, a row each)

    @property
    def end(self) -> int:
        """The offset just past this chunk."""
        return self.offset + (self.lines if self.rows else len(self.data))


class Fingerprint(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies an input's content for a checkpoint: a changed input must not be resumed."""

    size: int
    mtime_ns: int
    head_sha256: str


class Source(Protocol):
    """One input. ``name`` is what the user gave (a path, ``-``); ``size`` its bytes, if known."""

    name: str
    size: int | None

    def chunks(self, start: Position, chunk_bytes: int) -> AsyncIterator[Chunk]:
        """The input from ``start`` on, as chunks of whole records; raises ``InputError`` naming name and line."""
        ...

    def fingerprint(self) -> Fingerprint | None:
        """The content's identity for checkpoints; ``None`` if it cannot be resumed (a pipe). Blocking I/O."""
        ...
