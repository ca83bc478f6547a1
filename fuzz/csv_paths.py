"""Differential fuzz of CSV's two decoders: any chunk, Arrow's fast path (the default decoder) and the Python
reference (``arrow=False``) must give the same records, invalid rows and blanks (``tests.test_arrowcsv.same``).

    make fuzz                     (each target for FUZZ_SECONDS, from examples/rides.csv)
    .venv/bin/python fuzz/csv_paths.py CORPUS_DIR -max_total_time=600

The first byte of an input picks the schema, header and delimiter (a schema with required cells, one where every
cell may be empty, none, the rides with their zoomcamp header, a header with a column the schema leaves out, one
column, tab- and semicolon-separated), the rest is the chunk. A failure is written as ``crash-*``;
``python fuzz/csv_paths.py crash-...`` replays it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["pump"]):
    from pump.decode.csvrows import CsvDecoder

from pump.schemas import Ride
from tests.support.decoding import HEADER, Notes, Trip, cchunk, same

CASES = [
    (Trip, "id", HEADER, ","),
    (Trip, "zone", HEADER, ","),
    (Notes, "id", HEADER, ","),
    (None, "id", HEADER, ","),
    (Ride, "PULocationID", tuple(Ride.__struct_fields__), ","),
    (Trip, "id", (*HEADER, "note"), ","),
    (None, "id", ("id",), ","),
    (Trip, "id", HEADER, "\t"),
    (None, "id", HEADER, ";"),
]
DECODERS = [(CsvDecoder(schema, key), CsvDecoder(schema, key, arrow=False), header, sep) for schema, key, header, sep in CASES]


def one(data: bytes) -> None:
    if not data:
        return
    fast, slow, header, sep = DECODERS[data[0] % len(DECODERS)]
    body = data[1:]
    same(fast.decode(cchunk(header, body, delimiter=sep)), slow.decode(cchunk(header, body, delimiter=sep)))


def seeds() -> list[bytes]:
    rides = (Path(__file__).resolve().parents[1] / "examples" / "rides.csv").read_bytes().split(b"\n")[1:8]
    trips = b"1,2025-11-01 00:05:00,.5,1.,Midtown\n2,2025-11-01T00:06:01.250000,-.75,,\n3,2025-11-01 00:07:00,1e5,3,x\n"
    seeds = [bytes([i]) + trips.replace(b",", CASES[i][3].encode()) for i in range(len(CASES)) if i != 4]
    return [*seeds, b"\x04" + b"\n".join(rides) + b"\n"]


if __name__ == "__main__":
    from fuzz import run

    run(one, seeds())
