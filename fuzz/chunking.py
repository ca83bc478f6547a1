"""Fuzz of cutting and decoding together: whatever the bytes and however they arrive (blocks of any size), the
records, invalid lines and blanks must be those of the same bytes read in one piece (values equal as JSON, field by
field; ``tests.test_source.read_decoded``). A chunk boundary the cutter puts where the decoder would not (inside a
quoted CSV field) shows here as a record split in two; a line counted differently, as numbers that move.

    .venv/bin/python fuzz/chunking.py -max_total_time=600      (or ``make fuzz``)

The first byte picks the format (CSV under a three-column header, or JSON lines), the schema and key, and the
block size (1 to 64 bytes); the rest is the input. It found the cutter's quote counting and the csv module's
lone-CR lines (README, Testing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["pump"]):
    from pump.decode import build_decoders
    from pump.input.compression import GZIP_MAGIC, ZSTD_MAGIC
    from pump.input.formats import BOM

from tests.support.decoding import CSV_ROWS, JSON_LINES, Row, read_decoded

DECODERS = [build_decoders(schema, key) for schema, key in ((Row, "user"), (None, "seq"), (None, None))]


def one(data: bytes) -> None:
    if not data:
        return
    pick = data[0]
    fmt = "csv" if pick & 1 else "jsonl"
    body = b"user,seq,amount\n" + data[1:] if fmt == "csv" else data[1:]
    if body.startswith((GZIP_MAGIC, ZSTD_MAGIC, BOM)):  # compressed, or a BOM: not this target's
        return
    decoders = DECODERS[(pick >> 1) % len(DECODERS)]
    whole = read_decoded(body, fmt, max(len(body), 1), decoders)
    assert read_decoded(body, fmt, 1 + (pick >> 3) % 64, decoders) == whole


def seeds() -> list[bytes]:
    return [bytes([pick]) + b"\n".join(CSV_ROWS if pick & 1 else JSON_LINES) + b"\n" for pick in range(0, 256, 5)]


if __name__ == "__main__":
    from fuzz import run

    run(one, seeds())
