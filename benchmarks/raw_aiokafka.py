"""The ceilings of pump's modes: aiokafka alone, with the same validation and keys, and nothing else.

    python benchmarks/raw_aiokafka.py send|batch FILE BOOTSTRAP TOPIC [--acks 1|all] [--partitions 8]

``send``: ``send()`` per record with a done-callback counting acknowledgements (what callback mode
does, without pump's accounting). ``batch``: explicit per-partition batches (``create_batch`` /
``send_batch``), as batch mode builds them. Each line is msgspec-validated against ``rides`` for its
key ``str(PULocationID)``, partitioned as Java does. No checkpoint, dead letters, metrics or report:
what is left is the client's own cost. Prints one JSON line like ``reference.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import msgspec
import uvloop
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pump.decode import java_partition
from pump.schemas import Ride

LINGER_MS = 5
BATCH_BYTES = 1 << 20


async def run(mode: str, path: str, bootstrap: str, topic: str, acks: str, partitions: int) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LINGER_MS, max_batch_size=BATCH_BYTES,
                                acks="all" if acks == "all" else int(acks), enable_idempotence=acks == "all")  # fmt: skip
    await producer.start()
    decode = msgspec.json.Decoder(Ride).decode
    placed: dict[int, tuple[bytes, int]] = {}
    acked = 0
    pending: set[asyncio.Future[object]] = set()

    def done(fut: asyncio.Future[object]) -> None:
        nonlocal acked
        pending.discard(fut)
        if fut.exception() is None:
            acked += 1 if mode == "send" else batch_counts.pop(id(fut), 0)

    batch_counts: dict[int, int] = {}
    start = time.perf_counter()
    try:
        with open(path, "rb") as f:  # noqa: ASYNC230  (the plain script a user would write: blocking reads)
            if mode == "send":
                for line in f:
                    key, partition = where(decode(line).PULocationID, placed, partitions)
                    fut = await producer.send(topic, line.rstrip(b"\n"), key=key, partition=partition)
                    pending.add(fut)
                    fut.add_done_callback(done)
            else:
                await send_batches(producer, f, decode, placed, partitions, topic, pending, batch_counts, done)
        while pending:
            await asyncio.wait(set(pending))
    finally:
        await producer.stop()
    return {"records": acked, "window_s": round(time.perf_counter() - start, 4)}


def where(value: int, placed: dict[int, tuple[bytes, int]], partitions: int) -> tuple[bytes, int]:
    found = placed.get(value)
    if found is None:
        key = str(value).encode()
        found = placed[value] = (key, java_partition(key, partitions))
    return found


async def send_batches(producer, f, decode, placed, partitions, topic, pending, batch_counts, done) -> None:  # type: ignore[no-untyped-def]
    open_batches: dict[int, tuple[object, int]] = {}

    async def ship(partition: int, batch: object, count: int) -> None:
        fut = await producer.send_batch(batch, topic, partition=partition)
        batch_counts[id(fut)] = count
        pending.add(fut)
        fut.add_done_callback(done)

    for line in f:  # a batch ships when full, the rest at the end: no linger timer, the input never pauses
        key, partition = where(decode(line).PULocationID, placed, partitions)
        batch, count = open_batches.get(partition) or (producer.create_batch(), 0)
        if batch.append(key=key, value=line.rstrip(b"\n"), timestamp=None) is None:  # type: ignore[attr-defined]
            await ship(partition, batch, count)
            batch, count = producer.create_batch(), 0
            batch.append(key=key, value=line.rstrip(b"\n"), timestamp=None)  # type: ignore[attr-defined]
        open_batches[partition] = (batch, count + 1)
    for p, (b, c) in open_batches.items():
        await ship(p, b, c)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("send", "batch"))
    ap.add_argument("path")
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--acks", default="1")
    ap.add_argument("--partitions", type=int, default=8)
    a = ap.parse_args()
    print(json.dumps(uvloop.run(run(a.mode, a.path, a.bootstrap, a.topic, a.acks, a.partitions))))


if __name__ == "__main__":
    main()
