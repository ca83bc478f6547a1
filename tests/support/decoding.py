"""Inputs and comparisons for decoders, shared by the tests and the fuzzers (``fuzz/``): what N runs sharing a chunk
answer for, what a chunk decodes to however its bytes arrive, and CSV's two paths held to each other."""

from __future__ import annotations

import collections
from datetime import datetime

import msgspec

from pump.decode import Partitioner, build_decoders
from pump.decode.parsed import Parsed
from pump.errors import InputError
from pump.input import Position
from pump.input.cutter import Cutter
from tests.support.builders import chunk


class Row(msgspec.Struct):
    user: str
    seq: int
    amount: float | None = None


JSON_LINES = [
    b'{"user": "a", "seq": 1, "amount": 2.5}',
    b'{"user": "b", "seq": 2}',
    b'{"user": "", "seq": 3}',  # the empty key
    b'{"user": "a", "seq": "x"}',  # a bad field, a good key: its owner reports it
    b'{"user": null, "seq": 5}',  # no key
    b'{"seq": 6}',  # no key field
    b'{"user": 7, "seq": 7}',  # a key of the wrong type
    b"not json",
    b"[1, 2]",
    b"",
    b"   ",
    b'{"user": "c", "seq": 9, "amount": 3}\r',  # CRLF; an int in a float field
    b'{"user": "d", "seq": 10, "amount": 1}',
    b'{"user": "e\xff", "seq": 11}',  # bad UTF-8 in the key
    b'{"user": "f", "seq": 12, "note": "\xfe"}',  # bad UTF-8 elsewhere
]


CSV_ROWS = [
    b"a,1,2.5",
    b"b,2,",
    b",3,",  # the empty key
    b"a,x,1",  # a bad field
    b"c, 12,1",
    b"d,012,1",  # a leading zero: only the conversion can tell the key
    b"e,-3,1",
    b"f,1.0,1",
    b"g,4",  # too few columns
    b"",
    b'"h\nh",5,.5',  # a quoted newline, a CSV float
    b"i\xff,6,1",  # bad UTF-8 in the key
    b"j,7,\xfe",
    b'k,"8",1',
]


def answered(
    fmt: str, lines: list[bytes], key_field: str | None, schema: type | None, shards: int, partitions: int
) -> list[Parsed]:
    data = b"\n".join(lines) + b"\n"
    header = ("user", "seq", "amount") if fmt == "csv" else None
    decoders = build_decoders(schema, key_field)
    return [decoders[fmt].decode(chunk(data, header=header, first_line=2 if header else 1),  # type: ignore[index]
                                 Partitioner(partitions, shard=(i, shards)) if shards else None)
            for i in range(max(shards, 1))]  # fmt: skip


def outcome(parts: list[Parsed]) -> tuple[collections.Counter, collections.Counter, int]:
    records = collections.Counter(rec for p in parts for rec in p.records)
    invalid = collections.Counter((i.line, i.reason) for p in parts for i in p.invalid)
    return records, invalid, sum(p.blank for p in parts)


class Trip(msgspec.Struct):
    id: int
    at: datetime
    fare: float
    tip: float | None = None
    zone: str | None = None


def cchunk(header: tuple[str, ...], body: bytes, first_line: int = 2, delimiter: str = ","):  # type: ignore[no-untyped-def]
    return chunk(body, first_line=first_line, offset=10, path="in.csv", header=header, delimiter=delimiter)


def same(fast: Parsed, slow: Parsed) -> None:
    assert [(k, line) for k, _, line in fast.records] == [(k, line) for k, _, line in slow.records]
    values = [[msgspec.json.decode(v) for _, v, _ in out.records] for out in (fast, slow)]
    assert values[0] == values[1] and [list(v) for v in values[0]] == [list(v) for v in values[1]]  # field order too
    assert [(i.line, i.reason, i.message) for i in fast.invalid] == [(i.line, i.reason, i.message) for i in slow.invalid]
    assert fast.blank == slow.blank


HEADER = ("id", "at", "fare", "tip", "zone")


class Notes(msgspec.Struct):
    """Every cell may be empty: a row of empty cells is a valid record of it."""

    id: str
    at: str | None = None
    fare: float | None = None
    tip: float | None = None
    zone: str = ""


def read_decoded(data: bytes, fmt: str, block: int, decoders: dict) -> tuple[list, list, int]:  # type: ignore[type-arg]
    """``data`` cut as it arrives in blocks of ``block`` bytes and each chunk decoded: its records (values as JSON,
    field by field: CSV's two paths may write a number as ``1`` or ``1.0``), invalid lines and blanks. Also what
    ``fuzz/chunking.py`` compares."""
    cutter = Cutter("in." + fmt, fmt, Position(0, 1), can_seek=False)
    records: list = []  # type: ignore[type-arg]
    invalid: list = []  # type: ignore[type-arg]
    blank = 0
    for piece in [data[i : i + block] for i in range(0, len(data), block)] + [b""]:
        try:
            chunk = cutter.feed(piece)
        except InputError as exc:  # the input refused as a whole (a JSON array): the run stops, whatever came before
            return [], [(exc.line, "refused", str(exc), 0)], 0
        if chunk is not None:
            out = decoders[fmt].decode(chunk)
            records += [(key, list(msgspec.json.decode(value).items()), line) for key, value, line in out.records]
            invalid += [(i.line, i.reason, i.message, i.offset) for i in out.invalid]
            blank += out.blank
        if cutter.failed is not None:
            break
    return records, invalid, blank
