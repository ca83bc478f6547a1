"""Synthetic NYC taxi rides with the 18 columns of ``rides.csv``, deterministic from a seed.

For volume tests, demos and benchmarks: ``python -m pump.dev.synth OUT --rows N [--format csv|jsonl|parquet]``
(by default, by OUT's name: ``.jsonl`` anywhere in it for JSON lines, ``.parquet`` at its end for Parquet; ``.gz``
compresses text).
Values are formatted the way the TLC files are (``.73`` for distances under a
mile, empty optional cells in some rows), so they exercise the same decoding.
"""

from __future__ import annotations

import argparse
import gzip
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO

import msgspec

COLUMNS = [
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
]

_EPOCH = datetime(2020, 7, 1)


def _money(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def rows(n: int, seed: int = 42) -> Iterator[list[str]]:
    """``n`` rows of strings, exactly as a CSV writer would put them."""
    rnd = random.Random(seed)
    for i in range(n):
        pickup = _EPOCH + timedelta(seconds=i * 2 + rnd.randrange(60))
        dropoff = pickup + timedelta(seconds=rnd.randrange(120, 3600))
        dist = rnd.expovariate(1 / 3.0)
        dist_text = f"{dist:.2f}"
        if dist_text.startswith("0."):
            dist_text = dist_text[1:]  # the TLC writes .73, not 0.73
        fare = round(2.5 + dist * 2.5, 2)
        tip = round(fare * rnd.choice((0, 0, 0.1, 0.15, 0.2)), 2)
        congestion = 2.5 if rnd.random() < 0.7 else 0
        total = fare + 0.5 + 0.5 + tip + 0.3 + congestion
        unknown_vendor = rnd.random() < 0.02
        yield [
            "" if unknown_vendor else str(rnd.choice((1, 2))),
            pickup.strftime("%Y-%m-%d %H:%M:%S"),
            dropoff.strftime("%Y-%m-%d %H:%M:%S"),
            "" if unknown_vendor else str(rnd.choice((1, 1, 1, 2, 3))),
            dist_text,
            "" if unknown_vendor else "1",
            "" if unknown_vendor else "N",
            str(rnd.randrange(1, 266)),
            str(rnd.randrange(1, 266)),
            "" if unknown_vendor else str(rnd.choice((1, 1, 2))),
            _money(fare),
            "0.5",
            "0.5",
            _money(tip),
            "0",
            "0.3",
            _money(total),
            "" if unknown_vendor else _money(congestion),
        ]


def write(out: IO[bytes], n: int, seed: int = 42, fmt: str = "csv") -> None:
    if fmt == "csv":
        out.write((",".join(COLUMNS) + "\n").encode())
        buf = []
        for row in rows(n, seed):
            buf.append(",".join(row))
            if len(buf) >= 10000:
                out.write(("\n".join(buf) + "\n").encode())
                buf.clear()
        if buf:
            out.write(("\n".join(buf) + "\n").encode())
        return
    from pump.decode.csvrows import CsvDecoder  # typed exactly as pump types a CSV row
    from pump.schemas import Ride

    plan = CsvDecoder(Ride, None).plan_for(tuple(COLUMNS), "<synth>")
    encode = msgspec.json.Encoder().encode
    lines = []
    for row in rows(n, seed):
        lines.append(encode(msgspec.structs.asdict(plan.convert(row)[0])))
        if len(lines) >= 10000:
            out.write(b"\n".join(lines) + b"\n")
            lines.clear()
    if lines:
        out.write(b"\n".join(lines) + b"\n")


def write_file(path: str, n: int, seed: int = 42, fmt: str | None = None) -> str:
    fmt = fmt or ("jsonl" if ".jsonl" in path else "parquet" if path.endswith(".parquet") else "csv")
    if fmt == "parquet":
        return write_parquet(path, n, seed)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:  # type: ignore[operator]
        write(f, n, seed, fmt)
    return path


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m pump.dev.synth", description=__doc__)
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"])
    a = p.parse_args()
    write_file(a.out, a.rows, a.seed, a.format)


def write_parquet(path: str, n: int, seed: int = 42, row_group_rows: int = 100_000) -> str:
    """The same rides as a Parquet file with the TLC's 2025 yellow-trip column types (``pyarrow`` needed): int32
    ids, ``timestamp[us]`` times, nullable int64 counts, doubles, and the 2025 columns ``Airport_fee`` and
    ``cbd_congestion_fee``; the unknown-vendor rows have nulls where the TLC's have them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("VendorID", pa.int32()), ("tpep_pickup_datetime", pa.timestamp("us")), ("tpep_dropoff_datetime", pa.timestamp("us")),
        ("passenger_count", pa.int64()), ("trip_distance", pa.float64()), ("RatecodeID", pa.int64()),
        ("store_and_fwd_flag", pa.string()), ("PULocationID", pa.int32()), ("DOLocationID", pa.int32()),
        ("payment_type", pa.int64()), ("fare_amount", pa.float64()), ("extra", pa.float64()), ("mta_tax", pa.float64()),
        ("tip_amount", pa.float64()), ("tolls_amount", pa.float64()), ("improvement_surcharge", pa.float64()),
        ("total_amount", pa.float64()), ("congestion_surcharge", pa.float64()), ("Airport_fee", pa.float64()),
        ("cbd_congestion_fee", pa.float64()),
    ])  # fmt: skip
    kinds = [field.type for field in schema]

    def typed(value: str, kind: pa.DataType) -> object:
        if value == "":
            return None
        if pa.types.is_timestamp(kind):
            return datetime.fromisoformat(value)
        if pa.types.is_integer(kind):
            return int(value)
        if pa.types.is_floating(kind):
            return float(value)
        return value

    def flush(batch: list[list[object]]) -> None:
        columns = [pa.array(column, kind) for column, kind in zip(zip(*batch, strict=True), kinds, strict=True)]
        writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        batch.clear()

    with pq.ParquetWriter(path, schema) as writer:
        batch: list[list[object]] = []
        for i, row in enumerate(rows(n, seed)):
            airport = 1.75 if i % 17 == 0 else 0.0
            batch.append([typed(v, k) for v, k in zip(row, kinds, strict=False)] + [None if row[0] == "" else airport, 0.75])
            if len(batch) >= row_group_rows:
                flush(batch)
        if batch:
            flush(batch)
    return path


if __name__ == "__main__":
    main()
