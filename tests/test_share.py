"""Runs that send only some partitions answer for disjoint lines: together, exactly what one run makes of a chunk.

Each of N runs (``--processes N``, ``--shard-by partition``) reads every line but decodes fully only the lines
it answers for (``pump.decode.parsed.Share``): whatever the lines hold, the N results together must be the one
run's result, every record once (from the run that sends its partition), every bad line reported once.
"""

from __future__ import annotations

import collections

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pump.decode import Partitioner, build_decoders
from pump.decode.parsed import Parsed
from tests.builders import chunk


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


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(("key_field", "schema"), [("user", Row), ("seq", Row), ("amount", Row), ("user", None), (None, Row),
                                                   (None, None)])  # fmt: skip
@pytest.mark.parametrize("shards", [1, 2, 3, 5])
def test_the_runs_together_answer_for_every_line_once(fmt: str, key_field: str | None, schema: type | None, shards: int) -> None:
    lines = (JSON_LINES if fmt == "jsonl" else CSV_ROWS) * 40
    whole = outcome(answered(fmt, lines, key_field, schema, 0, 4))
    parts = answered(fmt, lines, key_field, schema, shards, 4)
    assert outcome(parts) == whole
    assert whole[0] and (whole[1] or key_field is None or schema is None)
    for index, part in enumerate(parts):  # each record from the run that sends its partition
        p = Partitioner(4, shard=(index, shards))
        assert all(p.sends(key, line) for key, _, line in part.records)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(JSON_LINES) | st.binary(max_size=30).filter(lambda b: b"\n" not in b), max_size=60),
       st.integers(1, 4), st.integers(1, 6))  # fmt: skip
def test_any_json_lines_are_answered_for_once(lines: list[bytes], shards: int, partitions: int) -> None:
    for key_field, schema in (("user", Row), ("amount", Row), ("user", None)):
        whole = outcome(answered("jsonl", lines, key_field, schema, 0, partitions))
        assert outcome(answered("jsonl", lines, key_field, schema, shards, partitions)) == whole


def test_quote_free_csv_is_read_as_the_csv_module_reads_it() -> None:
    """Text without a quote or a CR is split on newlines and commas: the same records, invalid rows and blanks as
    through the csv module (which a quoted field elsewhere in the chunk forces)."""
    plain = [row for row in CSV_ROWS if b'"' not in row] * 3 + [b"", b"z,9,1", b"   "]
    quoted = b'"q",1,1'
    fast = answered("csv", plain, "user", Row, 0, 4)[0]
    slow = answered("csv", [*plain, quoted], "user", Row, 0, 4)[0]
    assert slow.records[-1][0] == b"q" and (fast.records, fast.invalid, fast.blank) == (
        slow.records[:-1],
        slow.invalid,
        slow.blank,
    )
    assert fast.blank == 5 and {i.reason for i in fast.invalid} == {"csv", "schema", "encoding"}
