"""How well pump keeps a pace: ``--rate`` and ``--speed``, each a whole ``pump replay`` process against Tansu.

    python benchmarks/pacing.py [--seconds 20] [--rate 1000] [--speed 60] [--repeats 3]

- ``--rate N`` over N x seconds records;
- ``--speed X`` over a file of rides whose pickup times span X x seconds of event time, a tenth of them
  up to 30 s early (out of order, as the TLC's files are: they are late) and one five years off (skipped).

Each record's Kafka timestamp (CreateTime: the producer's clock when the record went into its batch) is
read back with librdkafka. Printed per run: the achieved rate over the paced span (first to last record),
the worst and best one-second windows against the target (the expected count for that second: the rate,
or the records pump's event-time schedule puts in it), and the pacing lag percentiles, late records and
skipped gaps from pump's own report. Whole windows only: the first and last partial seconds are left out.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

T0 = datetime(2025, 11, 1, tzinfo=UTC)


def write_rides(path: Path, offsets: list[float]) -> None:
    with path.open("w") as f:
        for i, s in enumerate(offsets):
            when = (T0 + timedelta(seconds=s)).replace(tzinfo=None).isoformat(sep=" ")
            f.write(json.dumps({"seq": i, "PULocationID": i % 263, "tpep_pickup_datetime": when}) + "\n")


def timestamps(bootstrap: str, topic: str, count: int) -> list[int]:
    from tests.support.kafka import consume

    return [m.timestamp for m in consume(bootstrap, topic, count, within=120)]


def windows(stamps: list[int]) -> dict[int, int]:
    """Records per whole second since the first record (the last, partial second left out)."""
    first = min(stamps)
    counts = collections.Counter((t - first) // 1000 for t in stamps)
    last = max(counts)
    return {w: counts.get(w, 0) for w in range(last)}  # every whole second, an empty one included


def run(bootstrap: str, path: Path, *flags: str) -> tuple[str, dict]:
    topic = f"pacing-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run(
            [sys.executable, "-m", "pump", "replay", str(path), "--topic", topic, "--bootstrap-servers", bootstrap,
             "--create-topic", "--partitions", "4", "--key-field", "PULocationID", "--report-json", str(report),
             "--no-progress", *flags],
            capture_output=True, cwd=ROOT, timeout=600,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"pump failed: {proc.stderr.decode()[-2000:]}")
        return topic, json.loads(report.read_text())


def expected_by_speed(offsets: list[float], speed: float) -> dict[int, int]:
    """Records due in each second of the replay, by pump's own schedule (``EventPace.offset``) with no clock: what
    the run is measured against is whether each record went in the second its schedule says."""
    from pump.pace import EventPace

    pace = EventPace(speed, 60.0)
    return collections.Counter(int(pace.offset(s)) for s in offsets)


def line(name: str, got: dict[int, int], want: dict[int, int] | float, report: dict, key: str) -> str:
    ratios = [got[w] / (want if isinstance(want, float) else max(want.get(w, 0), 1)) for w in got]
    pacing = report[key]
    span = len(got) or 1
    extra = f", {pacing['late']:,} late, {pacing['skipped']:,} skipped" if key == "event_pacing" else ""
    return (
        f"{name:<12} {sum(got.values()) / span:9.1f}/s over {span:3d} whole s; windows vs target: worst"
        f" {min(ratios):.3f}, best {max(ratios):.3f}, median {statistics.median(ratios):.3f}; lag p50"
        f" {pacing['lag_p50_ms']:.1f} ms, p99 {pacing['lag_p99_ms']:.1f} ms, max {pacing['lag_max_ms']:.1f} ms{extra}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from pump.dev.broker import Broker

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rated = folder / "rated.jsonl"
        write_rides(rated, [i / args.rate for i in range(args.rate * args.seconds)])
        span = args.speed * args.seconds  # event seconds
        rng = random.Random(1)
        per_event_second = 10
        offsets = [i / per_event_second for i in range(int(span * per_event_second))]
        shuffled = [max(0.0, s - rng.uniform(0, 30)) if rng.random() < 0.1 else s for s in offsets]  # a tenth late
        shuffled[len(shuffled) // 2] += 86400 * 365 * 5  # and one timestamp five years off
        timed = folder / "timed.jsonl"
        write_rides(timed, shuffled)
        want = expected_by_speed(shuffled, args.speed)
        print(f"{args.rate * args.seconds:,} records at --rate {args.rate}; {len(shuffled):,} records over {span:,.0f} event"
              f" seconds at --speed {args.speed:g}; Tansu here, {args.repeats} runs each, alternating", flush=True)  # fmt: skip
        with Broker() as broker:
            for _ in range(args.repeats):
                topic, report = run(broker.bootstrap, rated, "--rate", str(args.rate))
                got = windows(timestamps(broker.bootstrap, topic, args.rate * args.seconds))
                print(line(f"--rate {args.rate}", got, float(args.rate), report, "pacing"), flush=True)
                topic, report = run(broker.bootstrap, timed, "--time-field", "tpep_pickup_datetime", "--speed", str(args.speed))
                got = windows(timestamps(broker.bootstrap, topic, len(shuffled)))
                print(line(f"--speed {args.speed:g}", got, want, report, "event_pacing"), flush=True)


if __name__ == "__main__":
    main()
