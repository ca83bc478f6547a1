"""The librdkafka reference for Avro: the script a user would otherwise write, run as a process of its own.

    python benchmarks/reference_avro.py FILE BOOTSTRAP TOPIC REGISTRY [--acks 1|all] [--linger-ms 5] [--batch-bytes N]

Reads JSON lines, decodes each into the ``rides`` Struct with msgspec (validated, its timestamps datetimes), turns it
into a dict and serializes it with confluent-kafka's ``AvroSerializer`` (the same Avro schema pump derives, registered
under ``TOPIC-value`` through its ``SchemaRegistryClient``), keyed ``str(PULocationID)``, ``produce()`` with one
delivery callback and ``poll(0)`` after each, ``partitioner=murmur2_random``, flushed at the end. Prints one JSON line:
records acknowledged and its own timed window.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import msgspec
from confluent_kafka import KafkaError, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pump.decode.avro import from_struct
from pump.schemas import Ride


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("path", "bootstrap", "topic", "registry"):
        ap.add_argument(name)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-bytes", type=int, default=1 << 20)
    a = ap.parse_args()
    producer = Producer({
        "bootstrap.servers": a.bootstrap, "linger.ms": a.linger_ms, "batch.size": a.batch_bytes, "acks": a.acks,
        "enable.idempotence": a.acks == "all", "partitioner": "murmur2_random",
        "queue.buffering.max.messages": 1_000_000,
    })  # fmt: skip
    registry = SchemaRegistryClient({"url": a.registry})
    serialize = AvroSerializer(registry, json.dumps(from_struct(Ride, "Ride")), lambda ride, _ctx: msgspec.structs.asdict(ride))
    context = SerializationContext(a.topic, MessageField.VALUE)
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
            raw = line.rstrip(b"\r\n")
            if not raw:
                continue
            ride = decode(raw)
            value = serialize(ride, context)
            while True:
                try:
                    producer.produce(a.topic, value, str(ride.PULocationID).encode(), on_delivery=on_delivery)
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
