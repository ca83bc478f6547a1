"""`make demo`: replay the real rides sample and 1,000,000 synthetic rides into the embedded broker,
print pump's report, then consume the topic back with librdkafka (a client independent of pump's)
and check that every record arrived exactly once."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from pump.dev.broker import Broker
from pump.dev.synth import write_file

HERE = Path(__file__).resolve().parent
TOPIC = "rides"
PARTITIONS = 8


def count_topic(bootstrap: str, expected: int, within: float = 120.0) -> tuple[int, int]:
    """Consume the whole topic; returns (records, distinct (partition, offset))."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "pump-demo", "enable.auto.commit": False, "log_level": 0})
    seen = 0
    positions: set[tuple[int, int]] = set()
    try:
        partitions = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + within
        idle = 0
        while time.monotonic() < deadline and (seen < expected or idle < 5):
            got = [m for m in consumer.consume(50_000, 0.2) if m.error() is None]
            positions.update((m.partition(), m.offset()) for m in got)
            seen += len(got)
            idle = 0 if got else idle + 1
    finally:
        consumer.close()
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
        # the embedded Tansu broker refuses the idempotent producer: say so, rather than have pump find out and warn
        common = ["--topic", TOPIC, "--bootstrap-servers", broker.bootstrap, "--schema", "rides", "--key-field", "PULocationID",
                  "--idempotence", "off"]  # fmt: skip
        status = pump(str(HERE / "rides.csv"), *common, "--create-topic", "--partitions", str(PARTITIONS))
        status = status or pump(str(synthetic), *common, "--report-json", str(out / "report.json"))
        expected = 266 + a.rows
        got, distinct = count_topic(broker.bootstrap, expected)
    print(f"\nconsumed back from topic {TOPIC!r}: {got:,} records ({distinct:,} distinct offsets), expected {expected:,}")
    if status or got != expected or distinct != expected:
        print("DEMO FAILED: not every record arrived exactly once", file=sys.stderr)
        return 1
    print("demo OK: every record arrived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
