"""How soon a line appended to a followed file reaches Kafka: ``pump replay --follow``, as a user runs it.

    python benchmarks/follow_latency.py [--repeats 5] [--seconds 5] [--rates 1,100,1000,20000]

For each rate, ``--repeats`` runs, rates rotating between repeats: a fresh embedded broker (Tansu) and a fresh
``python -m pump replay --follow FILE --idle-exit 3`` process; once it is following, a writer appends lines to the file
on schedule (each line holds the time it was written), then pump ends on its own. Every record is read back and its
Kafka timestamp (the producer's clock when the record was made, pump's ``--record-timestamp create``) compared with the
time in the line. Printed per rate: the median over runs of p50, p99 and max delay, with their spread (min..max), and
that every record arrived once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pump.dev.broker import Broker  # noqa: E402


def run_once(rate: int, seconds: float, folder: Path) -> list[float]:
    path = folder / f"follow-{rate}.jsonl"
    path.write_bytes(b"")
    total = max(int(rate * seconds), 1)
    with Broker() as broker:
        cmd = [sys.executable, "-m", "pump", "replay", "--follow", str(path), "--topic", "follow", "--create-topic",
               "--partitions", "1", "--bootstrap-servers", broker.bootstrap, "--no-progress", "--idle-exit", "3"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2.0)  # connected, the topic made, at the file's end
        with open(path, "ab", buffering=0) as f:
            start = time.monotonic()
            for n in range(total):
                wait = start + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                f.write(msgspec.json.encode({"n": n, "t": time.time()}) + b"\n")
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"pump failed: {err.decode()}")
        return _delays(broker.bootstrap, total)


def _delays(bootstrap: str, total: int) -> list[float]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "latency", "enable.auto.commit": False})
    consumer.assign([TopicPartition("follow", 0, OFFSET_BEGINNING)])
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 60
    while len(seen) < total and time.monotonic() < deadline:
        for m in consumer.consume(10_000, 0.5):
            if m.error() is None:
                value = msgspec.json.decode(m.value())
                seen[value["n"]] = m.timestamp()[1] / 1000 - value["t"]
    consumer.close()
    if len(seen) != total:
        raise SystemExit(f"{total - len(seen)} records missing")
    return sorted(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="1,100,1000,20000")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    results: dict[int, list[tuple[float, float, float]]] = {r: [] for r in rates}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for rate in rates[repeat % len(rates) :] + rates[: repeat % len(rates)]:  # rotating order
                d = run_once(rate, args.seconds, Path(folder))
                results[rate].append((statistics.median(d), d[min(int(len(d) * 0.99), len(d) - 1)], d[-1]))
                print(f"  rate {rate}/s repeat {repeat}: p50 {d[len(d) // 2] * 1e3:.1f} ms, max {d[-1] * 1e3:.1f} ms",
                      file=sys.stderr, flush=True)  # fmt: skip
    print(f"{'lines/s':>8}  {'p50 ms (spread)':>22}  {'p99 ms (spread)':>22}  {'max ms (spread)':>22}")
    for rate, runs in results.items():
        cols = []
        for i in range(3):
            values = [r[i] * 1e3 for r in runs]
            cols.append(f"{statistics.median(values):7.1f} ({min(values):.1f}..{max(values):.1f})")
        print(f"{rate:>8}  {cols[0]:>22}  {cols[1]:>22}  {cols[2]:>22}")


if __name__ == "__main__":
    main()
