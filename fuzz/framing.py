"""Fuzz of the record batches pump frames itself (``pump.output.kafka.framing``): any keys and values, partitions,
batch limit and record cap; every batch must be byte for byte what aiokafka's builder makes of its records (CRC,
varints, an idempotent producer's numbers), and all of them together what the usual path sends, partition by
partition, in order (``tests.test_kafka_boundary.held_to_aiokafka``). A chunk the framer refuses must be over its bound
for a record no batch holds (the longest value and the longest key, with a record's most overhead).

    .venv/bin/python fuzz/framing.py -max_total_time=600      (or ``make fuzz``)
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["pump"]):
    from pump.output.kafka.framing import HEADER

from tests.support.framing import framed_chunk, held_to_aiokafka


def one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    partitions = fdp.ConsumeIntInRange(1, 8)
    limit = fdp.ConsumeIntInRange(HEADER + 64, 1 << 16)
    cap = fdp.ConsumeIntInRange(1, 300)
    keyed = fdp.ConsumeBool()
    n = fdp.ConsumeIntInRange(1, 400)
    keys: list[bytes] | None = [] if keyed else None
    values = []
    for _ in range(n):
        if keys is not None:
            keys.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)))
        size = fdp.ConsumeIntInRange(0, 300) if fdp.ConsumeIntInRange(0, 9) else fdp.ConsumeIntInRange(0, 20_000)
        values.append(fdp.ConsumeBytes(1)[:1] * size)  # any length, cheaply; varints of one to three bytes
    if framed_chunk(keys, values, partitions, limit, cap) is None:
        # its bound: the longest value with the longest key (of any records) and a record's most overhead
        longest = max(map(len, values)) + 32 + (max(map(len, keys)) if keys else 0)
        assert longest > limit - HEADER - 1 or max(map(len, values)) > limit, "refused a chunk every batch can hold"
        return
    held_to_aiokafka(keys, values, partitions, limit, cap)


def seeds() -> list[bytes]:
    return [bytes(range(i, i + 200)) for i in range(0, 56, 8)]


if __name__ == "__main__":
    from fuzz import run

    run(one, seeds())
