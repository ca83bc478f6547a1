"""Synthetic NYC taxi rides with the 18 columns of ``rides.csv``, deterministic from a seed.

For volume tests, demos and benchmarks: ``python -m pump.dev.synth OUT --rows N [--format csv|jsonl]``.
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
    fmt = fmt or ("jsonl" if ".jsonl" in path else "csv")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:  # type: ignore[operator]
        write(f, n, seed, fmt)
    return path


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m pump.dev.synth", description=__doc__)
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--format", choices=["csv", "jsonl"])
    a = p.parse_args()
    write_file(a.out, a.rows, a.seed, a.format)


if __name__ == "__main__":
    main()
