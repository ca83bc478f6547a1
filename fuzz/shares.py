"""Fuzz of the runs that share a chunk (``--processes N``, ``--shard-by partition``): whatever the lines hold, the N
runs together give exactly what one run makes of them, every record once and every bad line reported once
(``tests.test_share``); and one JSON-lines run answers for every line: a record, an invalid line or a blank.

    .venv/bin/python fuzz/shares.py -max_total_time=600      (or ``make fuzz``)

The first byte picks the format, the key field and schema, the runs and the partitions; the rest are the lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["pump"]):
    import pump.decode  # noqa: F401

from tests.support.decoding import CSV_ROWS, JSON_LINES, Row, answered, outcome

KEYS = [("user", Row), ("seq", Row), ("amount", Row), ("user", None), (None, Row), (None, None)]


def one(data: bytes) -> None:
    if not data:
        return
    pick, lines = data[0], data[1:].split(b"\n")
    fmt = "csv" if pick & 1 else "jsonl"
    key_field, schema = KEYS[(pick >> 1) % len(KEYS)]
    shards, partitions = 2 + (pick >> 4) % 3, 1 + (pick >> 6) % 4
    alone = answered(fmt, lines, key_field, schema, 0, partitions)
    whole = outcome(alone)
    assert outcome(answered(fmt, lines, key_field, schema, shards, partitions)) == whole
    if fmt == "jsonl":
        part = alone[0]
        assert len(part.records) + len(part.invalid) + part.blank == len(lines)


def seeds() -> list[bytes]:
    return [bytes([pick]) + b"\n".join(JSON_LINES if pick & 1 == 0 else CSV_ROWS) for pick in range(0, 256, 7)]


if __name__ == "__main__":
    from fuzz import run

    run(one, seeds())
