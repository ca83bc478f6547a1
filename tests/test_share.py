"""Runs that send only some partitions answer for disjoint lines: together, exactly what one run makes of a chunk.

Each of N runs (``--processes N``, ``--shard-by partition``) reads every line but decodes fully only the lines
it answers for (``pump.decode.parsed.Share``): whatever the lines hold, the N results together must be the one
run's result, every record once (from the run that sends its partition), every bad line reported once.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pump.decode import Partitioner
from tests.support.decoding import CSV_ROWS, JSON_LINES, Row, answered, outcome


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
