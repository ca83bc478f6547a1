"""`make bench`: pump's send modes against a librdkafka reference, side by side in one run.

Each contender runs in its own subprocess against its own fresh embedded broker
and prints one JSON line; this script then prints a table with ratios to the
reference. The reference is what a user would otherwise write: a confluent-kafka
(librdkafka) producer with the same linger and batch size and
``partitioner=murmur2_random``, reading the same file line by line and
validating each line against the same ``rides`` schema to find its key.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"


def ensure(rows: int, fmt: str) -> Path:
    from pump.dev.synth import write_file

    DATA.mkdir(exist_ok=True)
    path = DATA / f"rides-{rows}.{fmt}"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        write_file(str(path), rows, fmt=fmt)
    return path


def run(name: str, path: str) -> dict:
    """One contender, in its own process, against its own fresh broker (started here, so its memory is not counted)."""
    from pump.dev.broker import Broker

    with Broker() as broker:
        cmd = [sys.executable, str(HERE / "contender.py"), name, path, broker.bootstrap]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"contender {name} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def table(results: list[dict], ref: dict) -> str:
    head = (
        f"{'contender':<24}{'rows':>10}{'records/s':>12}{'MB/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'RSS MB':>8}{'+child MB':>10}{'vs ref':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        ratio = r["records_per_s"] / ref["records_per_s"]
        lines.append(
            f"{r['name']:<24}{r['rows']:>10,}{r['records_per_s']:>12,.0f}{r['mb_per_s']:>8.1f}"
            f"{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['peak_rss_mb']:>8.0f}{r['child_peak_rss_mb']:>10.0f}{ratio:>7.2f}x"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sync-rows", type=int, default=20_000)
    ap.add_argument("--callback-rows", type=int, default=200_000)
    ap.add_argument("--big-rows", type=int, default=0, help="also run batch mode on this many rows (RSS flatness), e.g. 5000000")
    ap.add_argument("--pairs", type=int, default=3, help="interleaved metrics-off/on runs of batch mode (medians compared)")
    ap.add_argument("--overhead-only", action="store_true", help="only the interleaved metrics-off/on batch runs")
    a = ap.parse_args()
    jsonl = ensure(a.rows, "jsonl")
    csv = ensure(a.rows, "csv")
    if a.overhead_only:
        off, on = [], []
        for i in range(a.pairs):  # ABBA order, so drift over the run does not favour either side
            order = ("pump-batch", "pump-batch-metrics") if i % 2 == 0 else ("pump-batch-metrics", "pump-batch")
            for name in order:
                (off if name == "pump-batch" else on).append(run(name, str(jsonl))["records_per_s"])
        report_overhead(off, on)
        return
    results = [run("librdkafka-reference", str(jsonl))]
    results.append(run("pump-batch", str(jsonl)))
    results.append(run("pump-batch-csv", str(csv)))
    results.append(run("pump-callback", str(ensure(a.callback_rows, "jsonl"))))
    results.append(run("pump-sync", str(ensure(a.sync_rows, "jsonl"))))
    if a.big_rows:
        results.append(run("pump-batch-csv", str(ensure(a.big_rows, "csv"))))
    off, on = [results[1]["records_per_s"]], []
    for i in range(a.pairs):
        on.append(run("pump-batch-metrics", str(jsonl))["records_per_s"])
        if i < a.pairs - 1:
            off.append(run("pump-batch", str(jsonl))["records_per_s"])
    print()
    print(table(results, results[0]))
    report_overhead(off, on)


def report_overhead(off: list[float], on: list[float]) -> None:
    off_m, on_m = statistics.median(off), statistics.median(on)
    print(
        f"\nmetrics overhead, batch mode, median of {len(off)} off / {len(on)} on (served, scraped every 1 s): "
        f"{off_m:,.0f} -> {on_m:,.0f} records/s ({(on_m - off_m) / off_m:+.1%})"
        f"\n  off: {', '.join(f'{x:,.0f}' for x in off)}\n  on:  {', '.join(f'{x:,.0f}' for x in on)}"
    )


if __name__ == "__main__":
    main()
