"""What a decoder makes of one chunk, and the protocol every record format's decoder follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec

from pump.config import config_error, verbatim
from pump.input import Chunk
from pump.records import Invalid, Record


@dataclass(slots=True)
class Columns:
    """A chunk's records still as Arrow arrays (binary, one row a record, in input order): each key (None: unkeyed)
    and value, the first from line ``first_line``. CSV's fast path makes them; handed on as they are where the
    decoder is asked (``columnar``: a ``Framer`` takes them), else made into records."""

    keys: Any | None
    values: Any
    first_line: int

    def records(self) -> list[Record]:
        values = self.values.to_pylist()
        lines = range(self.first_line, self.first_line + len(values))
        if self.keys is None:
            return [(None, value, line) for value, line in zip(values, lines, strict=True)]
        return list(zip(self.keys.to_pylist(), values, lines, strict=True))


#: A record batch ready to send: its partition, its bytes as the sink sends them, its records, their values' bytes,
#: and their lines.
Framed = tuple[int, bytearray, int, int, Sequence[int]]


class Framer(Protocol):
    """Turns a chunk's ``Columns`` into ``Framed`` batches for one sink, on the decode thread; None where it
    cannot (the records then go the usual way). ``seq``: the chunk's place in the run (unkeyed records' partition)."""

    def frame(self, columns: Columns, seq: int) -> list[Framed] | None: ...

    def values(self, partition: int, values: list[bytes], first_line: int) -> list[Framed] | None:
        """Unkeyed values of consecutive lines from ``first_line``, for one partition, as batches; None where they go
        the usual way."""
        ...


@dataclass(slots=True)
class FramedRows:
    """A Parquet batch's rows sent as the record batches they were framed into, with no JSON lines made of them:
    what their records are accounted against (``Decoded.chunk``), and where a dead letter reads a row's value back
    (``lines.LineIndex``). Positions count rows, as the batch's do."""

    path: str
    first_line: int
    offset: int
    lines: int
    seq: int
    framed: list[Framed]
    rows: Literal[True] = True


#: What a decoded chunk's records come from, and their lines are read from (errors, dead letters).
Lines = Chunk | FramedRows


@dataclass(slots=True)
class Parsed:
    """A chunk's lines: records in input order (or, for a decoder asked for them, ``columns``), invalid lines,
    and how many were blank."""

    records: list[Record] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    blank: int = 0
    columns: Columns | None = None
    values: list[bytes] | None = None  # instead of records: unkeyed values of every line from the chunk's first, in order

    def as_records(self, first_line: int) -> None:
        """``values`` made records (where nothing frames them)."""
        if self.values is not None:
            self.records = [(None, value, line) for line, value in enumerate(self.values, first_line)]
            self.values = None


class Share(Protocol):
    """The lines a run that sends only some partitions answers for (``--processes``, ``--shard-by partition``).

    Every such run reads every line, and each line is answered for by exactly one of them: sent by the
    run that sends its partition, or reported (invalid, blank) by one run. Where a line's partition
    shows before the costly part of decoding it (an unkeyed line's number; a CSV key cell that needs
    no conversion), only that partition's run decodes it, and it reports the line if it is bad;
    every other line every run decodes, keeping it if it sends its partition, and the ``first`` run
    alone reports the bad ones. ``Partitioner`` is one.
    """

    first: bool

    def sends(self, key: bytes | None, line: int) -> bool: ...


class Decoder(Protocol):
    """Lines of one record format -> ``Parsed``. Built once per run, reused for every chunk. With a ``share``,
    only the lines it answers for: the others are neither records, invalid nor blank here."""

    def decode(self, chunk: Chunk, share: Share | None = None, columnar: bool = False) -> Parsed:
        """``columnar``: the records may come as ``Parsed.columns`` (where the decoder has them so)."""
        ...


def field_attr(schema: type[msgspec.Struct], key_field: str) -> str:
    """The attribute holding ``key_field`` (by its name or its encoded name) in ``schema``."""
    for info in msgspec.structs.fields(schema):
        if key_field in (info.name, info.encode_name):
            return info.name
    raise config_error(f"{{key_field}} {verbatim(repr(key_field))} is not a field of schema {verbatim(schema.__name__)}")
