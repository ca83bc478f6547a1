"""What every input is to the rest of pump: a ``Source`` that yields, from a ``Position``, ``Chunk``s of whole text records
or ``RowBatch``es of a Parquet file's rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec

RecordFormat = Literal["csv", "jsonl", "lines"]


class FileId(msgspec.Struct, frozen=True, kw_only=True):
    """Which file a followed input's bytes came from, whatever its name is now (``--follow``, ``--watch``): its device
    and inode, and the SHA-256 of its first ``head_bytes`` bytes (so a new file given a freed inode is not taken for
    the old one)."""

    dev: int
    inode: int
    head_bytes: int
    head_sha256: str


@dataclass(slots=True)
class Position:
    """Everything before ``offset`` (uncompressed bytes; rows of a Parquet file) is handled; ``line`` is the next
    line's (row's) number. ``file``: which file it is a position in, for an input that follows files."""

    offset: int
    line: int
    done: bool = False
    file: FileId | None = None


START = Position(0, 1)


@dataclass(slots=True)
class Chunk:
    """Whole records of one text input (CSV, JSON lines; a Parquet batch's rows as JSON lines once decode made them):
    ``data`` never ends inside a line or a quoted CSV field."""

    path: str
    format: RecordFormat
    header: tuple[str, ...] | None
    first_line: int
    offset: int
    data: bytes
    raw_bytes: int  # bytes read from the source for this chunk (compressed, if it is)
    lines: int = 0  # physical lines in ``data``, counted once here
    seq: int = 0  # the chunk's place in the whole run's input order, set by the reader
    rows: bool = False  # offsets count rows, not bytes (a Parquet file's rows as JSON lines, a row each)
    delimiter: str = ","  # CSV's field separator (``--delimiter``; a tab for .tsv)
    file: FileId | None = None  # the file it was read from, where inputs are followed (``--follow``, ``--watch``)

    @property
    def text_bytes(self) -> int:
        """The uncompressed bytes it holds."""
        return len(self.data)

    @property
    def end(self) -> int:
        """The offset just past this chunk."""
        return self.offset + (self.lines if self.rows else len(self.data))

    def split(self, records: int) -> tuple[Chunk, Chunk | None, int]:
        """Its first ``records`` records, the rest (None if there is none), and how many records the first holds
        (fewer than asked only when it holds fewer): for ``--limit`` and pacing.

        A record is a line, or a CSV row, which may span lines inside quotes: a newline counts as a row's end only
        where the quotes before it pair up. Offsets, line numbers and read bytes are divided to match.
        """
        data = self.data
        end, found = _records_end(data, records, self.format == "csv")
        if end >= len(data):
            return self, None, found
        lines = data.count(b"\n", 0, end)
        raw = self.raw_bytes * end // max(len(data), 1)
        first = Chunk(self.path, self.format, self.header, self.first_line, self.offset, data[:end], raw, lines,
                      rows=self.rows, delimiter=self.delimiter, file=self.file)  # fmt: skip
        rest = Chunk(self.path, self.format, self.header, self.first_line + lines, self.offset + (lines if self.rows else end),
                     data[end:], self.raw_bytes - raw, self.lines - lines, rows=self.rows, delimiter=self.delimiter,
                     file=self.file)  # fmt: skip
        return first, rest, found


def _records_end(data: bytes, records: int, quoted: bool) -> tuple[int, int]:
    """Where the first ``records`` records of ``data`` end, and how many there are (fewer where it holds fewer)."""
    end = found = quotes = pos = 0
    while found < records:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        if quoted:
            quotes += data.count(b'"', pos, nl)
        pos = nl + 1
        if not quotes & 1:
            found += 1
            end = pos
    if end < len(data) and found < records:  # a last line without a newline
        end, found = len(data), found + 1
    return end, found


@dataclass(slots=True)
class RowBatch:
    """Rows of a Parquet file as Arrow read them (a ``pyarrow.RecordBatch``): decode makes them records. Its
    positions count rows: ``offset`` is its first row's index, ``first_line`` that row's number (1-based)."""

    path: str
    batch: Any
    first_line: int
    offset: int
    raw_bytes: int  # the file's bytes for these rows, in proportion (Parquet's compression is per column chunk)
    seq: int = 0
    format: Literal["parquet"] = "parquet"
    rows: Literal[True] = True
    file: FileId | None = None  # the file it was read from, where inputs are watched (``--watch``)

    @property
    def lines(self) -> int:
        return int(self.batch.num_rows)

    @property
    def text_bytes(self) -> int:
        """The uncompressed bytes it holds: its columns' data as Arrow holds it."""
        return int(self.batch.nbytes)

    @property
    def end(self) -> int:
        return self.offset + self.lines

    def split(self, records: int) -> tuple[RowBatch, RowBatch | None, int]:
        """As ``Chunk.split``: its first ``records`` rows, the rest (None if there is none), and how many the first holds."""
        n = self.lines
        if records >= n:
            return self, None, n
        raw = self.raw_bytes * records // max(n, 1)
        first = RowBatch(self.path, self.batch.slice(0, records), self.first_line, self.offset, raw, file=self.file)
        rest = RowBatch(self.path, self.batch.slice(records), self.first_line + records, self.offset + records,
                        self.raw_bytes - raw, file=self.file)  # fmt: skip
        return first, rest, records


#: What a source yields: text records, or a Parquet file's rows.
Read = Chunk | RowBatch


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

    def chunks(self, start: Position, chunk_bytes: int | None) -> AsyncIterator[Read]:
        """The input from ``start`` on, as chunks of whole records (or rows); raises ``InputError`` naming name and line.
        ``chunk_bytes``: about how much each holds (None: ``CHUNK_BYTES`` for its format)."""
        ...

    def fingerprint(self) -> Fingerprint | None:
        """The content's identity for checkpoints; ``None`` if it cannot be resumed (a pipe). Blocking I/O."""
        ...
