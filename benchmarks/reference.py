"""The librdkafka reference: the script a user would otherwise write, run as a process of its own.

    python benchmarks/reference.py FILE BOOTSTRAP TOPIC [--acks 1|all] [--linger-ms 5] [--batch-bytes N]

Reads JSON lines, validates each against the ``rides`` Struct with msgspec to get its key
``str(PULocationID)``, ``produce()``s it with one delivery callback and ``poll(0)`` after each,
``partitioner=murmur2_random`` (Java's partitioner, as pump), and flushes at the end. Prints one JSON
line: records acknowledged and its own timed window (the bench times the whole process as well).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import msgspec
from confluent_kafka import KafkaError, Producer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pump.schemas import Ride


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--acks", default="1")
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-bytes", type=int, default=1 << 20)
    a = ap.parse_args()
    producer = Producer({
        "bootstrap.servers": a.bootstrap, "linger.ms": a.linger_ms, "batch.size": a.batch_bytes, "acks": a.acks,
        "enable.idempotence": a.acks == "all", "partitioner": "murmur2_random",
        "queue.buffering.max.messages": 1_000_000,
    })  # fmt: skip
    decode = msgspec.json.Decoder(Ride).decode
    errors: list[KafkaError] = []
    acked = 0

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        nonlocal acked
        if err is None:
            acked += 1
        else:
            errors.append(err)

    start = time.perf_counter()
    with open(a.path, "rb") as f:
        for line in f:
            value = line.rstrip(b"\r\n")
            if not value:
                continue
            key = str(decode(value).PULocationID).encode()
            while True:
                try:
                    producer.produce(a.topic, value, key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.005)
            producer.poll(0)
    remaining = producer.flush(300)
    seconds = time.perf_counter() - start
    if remaining or errors:
        raise SystemExit(f"{remaining} records unflushed, {len(errors)} failed: {errors[:3]}")
    print(json.dumps({"records": acked, "window_s": round(seconds, 4)}))


if __name__ == "__main__":
    main()
