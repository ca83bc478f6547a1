"""`make demo`: replay the real rides sample and 1,000,000 synthetic rides into the embedded broker,
print pump's report, then consume the topic back and check that every record arrived."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from pump.broker import Broker
from pump.synth import write_file

HERE = Path(__file__).resolve().parent
TOPIC = "rides"
PARTITIONS = 8


async def count_topic(bootstrap: str, expected: int, within: float = 120.0) -> tuple[int, int]:
    """Consume the whole topic; returns (records, distinct (partition, offset))."""
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen = 0
    positions: set[tuple[int, int]] = set()
    deadline = time.monotonic() + within
    idle = 0
    try:
        while time.monotonic() < deadline and (seen < expected or idle < 5):
            batch = await consumer.getmany(timeout_ms=200, max_records=50_000)
            got = sum(len(v) for v in batch.values())
            positions.update((tp.partition, m.offset) for tp, msgs in batch.items() for m in msgs)
            seen += got
            idle = 0 if got else idle + 1
    finally:
        await consumer.stop()
    return seen, len(positions)


def pump(*args: str) -> int:
    cmd = [sys.executable, "-m", "pump", "replay", *args]
    print("$ pump replay " + " ".join(args), flush=True)
    return subprocess.call(cmd)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    synthetic = out / f"rides-{a.rows}.csv"
    if not synthetic.exists():
        print(f"generating {a.rows:,} synthetic rides -> {synthetic}", flush=True)
        write_file(str(synthetic), a.rows)
    with Broker() as broker:
        print(f"embedded broker (Tansu) at {broker.bootstrap}\n", flush=True)
        common = ["--topic", TOPIC, "--bootstrap-servers", broker.bootstrap, "--schema", "rides", "--key-field", "PULocationID"]
        status = pump(str(HERE / "rides.csv"), *common, "--create-topic", "--partitions", str(PARTITIONS))
        status = status or pump(str(synthetic), *common, "--report-json", str(out / "report.json"))
        expected = 266 + a.rows
        got, distinct = asyncio.run(count_topic(broker.bootstrap, expected))
    print(f"\nconsumed back from topic {TOPIC!r}: {got:,} records ({distinct:,} distinct offsets), expected {expected:,}")
    if status or got != expected or distinct != expected:
        print("DEMO FAILED: not every record arrived exactly once", file=sys.stderr)
        return 1
    print("demo OK: every record arrived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
