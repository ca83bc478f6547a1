"""A bench's figures: one row per combination (medians over its runs, the spread of records/s, the ratio to the
fastest), printed as a table, and every run in a JSON report whose shape is ``SCHEMA_VERSION`` 1:

    {"version": 1, "bootstrap": str, "topic": str, "input": str, "records": int, "repeat": int,
     "max_seconds": float | null, "warm_up": str,
     "runs": [{"combination": {"mode", "acks", "compression", "linger_ms", "batch_bytes", "processes"},
               "repeat": int, "sent": int, "acknowledged": int, "failed": int, "bytes": int, "seconds": float,
               "wall_s": float, "records_per_s": float, "mb_per_s": float,
               "latency_ms": {"avg", "p50", "p95", "p99", "max"}, "cpu_s": float, "rss_mb": float,
               "time_boxed": bool, "exit_code": int}, ...],
     "combinations": [{"combination": {...}, "runs": int,
                       "records_per_s": {"median", "min", "max"}, "mb_per_s": float,
                       "latency_ms": {"avg", "p50", "p95", "p99", "max"}, "cpu_s": float, "rss_mb": float,
                       "vs_fastest": float, "time_boxed": bool}, ...]}

``records_per_s`` and ``mb_per_s`` are acknowledged records (value bytes) over pump's own window, from its
first read to its last outcome; ``wall_s`` is the whole process. Latency is per record, from its send to its
acknowledgement, in every mode (a batch's latency counts once for each of its records); medians of the runs'
figures. New fields may be added; none of these will change meaning.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pump.bench.matrix import Combination
from pump.bench.runs import Run

SCHEMA_VERSION = 1
WARM_UP = "none: every run is a whole process, connecting included; its window starts at its first read"


def by_combination(combos: Sequence[Combination], runs: Sequence[Run]) -> list[dict[str, Any]]:
    rows = []
    for combo in combos:
        mine = [r for r in runs if r.combination == combo]
        rates = [r.records_per_s for r in mine]
        rows.append({
            "combination": combo.as_dict(),
            "runs": len(mine),
            "records_per_s": {"median": round(statistics.median(rates), 1), "min": round(min(rates), 1),
                              "max": round(max(rates), 1)},
            "mb_per_s": round(statistics.median(r.mb_per_s for r in mine), 3),
            "latency_ms": {k: round(statistics.median(r.latency_ms[k] for r in mine), 3)
                           for k in ("avg", "p50", "p95", "p99", "max")},
            "cpu_s": round(statistics.median(r.cpu_s for r in mine), 3),
            "rss_mb": round(statistics.median(r.rss_mb for r in mine), 1),
            "time_boxed": any(r.time_boxed for r in mine),
        })  # fmt: skip
    fastest = max((row["records_per_s"]["median"] for row in rows), default=0.0)
    for row in rows:
        row["vs_fastest"] = round(row["records_per_s"]["median"] / fastest, 3) if fastest else 0.0
    return rows


def table(rows: list[dict[str, Any]], labels: list[str]) -> str:
    head = (f"{'combination':<44} {'records/s (median, min..max)':>34} {'MB/s':>7} {'avg ms':>7} {'p50':>7} {'p95':>7}"
            f" {'p99':>7} {'max':>8} {'CPU s':>6} {'RSS MB':>6} {'vs best':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for row, label in zip(rows, labels, strict=True):
        r, lat = row["records_per_s"], row["latency_ms"]
        spread = f"{r['median']:,.0f} ({r['min']:,.0f}..{r['max']:,.0f})"
        mark = "*" if row["time_boxed"] else ""
        lines.append(
            f"{label + mark:<44} {spread:>34} {row['mb_per_s']:>7.2f} {lat['avg']:>7.1f} {lat['p50']:>7.1f} {lat['p95']:>7.1f}"
            f" {lat['p99']:>7.1f} {lat['max']:>8.1f} {row['cpu_s']:>6.1f} {row['rss_mb']:>6.0f} {row['vs_fastest']:>6.2f}x"
        )
    if any(row["time_boxed"] for row in rows):
        lines.append("* time-boxed by --max-seconds: its figures cover what it sent in that time")
    return "\n".join(lines)


def report(header: dict[str, Any], runs: Sequence[Run], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, **header, "warm_up": WARM_UP, "runs": [r.as_dict() for r in runs], "combinations": rows}
