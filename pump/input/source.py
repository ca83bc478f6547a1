"""What every input is to the rest of pump: a ``Source`` that yields ``Chunk``s from a ``Position``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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
    keys: list[bytes | None] | None = None  # every line known valid, with these keys (Parquet, by its types: ``Vouch``)
    framed: list[Any] | None = None  # its records as record batches (``decode.parsed.Framed``; Parquet): ``data`` is empty
    delimiter: str = ","  # CSV's field separator (``--delimiter``; a tab for .tsv)

    @property
    def text_bytes(self) -> int:
        """Its records' bytes as lines: a framed chunk keeps no lines, only its values (``Framed``'s bytes of values)
        and, for each, the newline it would have had."""
        return len(self.data) if self.framed is None else sum(batch[3] for batch in self.framed) + self.lines

    @property
    def end(self) -> int:
        """The offset just past this chunk."""
        return self.offset + (self.lines if self.rows else len(self.data))


class Fingerprint(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies an input's content for a checkpoint: a changed input must not be resumed."""

    size: int
    mtime_ns: int
    head_sha256: str


#: Bytes a chunk holds unless ``--chunk-bytes`` says: a CSV row of numbers becomes a JSON object about four times its
#: size (its field names), so a CSV chunk of half the bytes still holds about twice a JSON-lines chunk's records, and
#: what is decoded ahead is held as records. Measured (1M rides, whole processes, alternating, 5 runs each): CSV in
#: 512 KiB chunks 168 MB peak against 197 in 1 MiB ones (768 KiB: 178), 0.97x the speed (runs overlapping: 5.27-5.79 s
#: against 4.95-5.98); below that Arrow's fixed cost per chunk (about 1.5 ms) shows: 256 KiB 0.79x.
CHUNK_BYTES: dict[str, int] = {"jsonl": 1 << 20, "csv": 512 << 10}


def chunk_bytes_for(fmt: str | None, asked: int | None) -> int:
    """The bytes to read at a time for input of format ``fmt`` (None: not known yet), unless ``asked``."""
    return asked if asked is not None else CHUNK_BYTES.get(fmt or "jsonl", CHUNK_BYTES["jsonl"])


class Source(Protocol):
    """One input. ``name`` is what the user gave (a path, ``-``); ``size`` its bytes, if known."""

    name: str
    size: int | None

    def chunks(self, start: Position, chunk_bytes: int | None) -> AsyncIterator[Chunk]:
        """The input from ``start`` on, as chunks of whole records; raises ``InputError`` naming name and line.
        ``chunk_bytes``: about how much each holds (None: ``CHUNK_BYTES`` for its format)."""
        ...

    def fingerprint(self) -> Fingerprint | None:
        """The content's identity for checkpoints; ``None`` if it cannot be resumed (a pipe). Blocking I/O."""
        ...


def split(chunk: Chunk, records: int) -> tuple[Chunk, Chunk | None, int]:
    """The chunk's first ``records`` records, the rest (None if there is none), and how many records the first holds
    (fewer than asked only when the chunk holds fewer): for ``--limit`` and ``--rate``.

    A record is a line, or a CSV row, which may span lines inside quotes: a newline counts as a row's end only
    where the quotes before it pair up. Offsets, line numbers and read bytes are divided to match.
    """
    data, end, found, quotes, pos = chunk.data, 0, 0, 0, 0
    while found < records:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        if chunk.format == "csv":
            quotes += data.count(b'"', pos, nl)
        pos = nl + 1
        if not quotes & 1:
            found += 1
            end = pos
    if end < len(data) and found < records:  # a last line without a newline
        end, found = len(data), found + 1
    if end >= len(data):
        return chunk, None, found
    lines = data.count(b"\n", 0, end)
    raw = chunk.raw_bytes * end // max(len(data), 1)
    keys = chunk.keys  # a vouched-for chunk's keys, a line each
    first = Chunk(chunk.path, chunk.format, chunk.header, chunk.first_line, chunk.offset, data[:end], raw, lines,
                  rows=chunk.rows, keys=None if keys is None else keys[:lines])  # fmt: skip
    rest_offset = chunk.offset + (lines if chunk.rows else end)
    rest = Chunk(chunk.path, chunk.format, chunk.header, chunk.first_line + lines, rest_offset, data[end:],
                 chunk.raw_bytes - raw, chunk.lines - lines, rows=chunk.rows,
                 keys=None if keys is None else keys[lines:])  # fmt: skip
    return first, rest, found
