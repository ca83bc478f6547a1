"""Record batches pump frames itself, held to aiokafka's builder: shared by the boundary's tests and ``fuzz/framing.py``.
Behind the Kafka boundary (it reads aiokafka's batches), as ``tests/test_kafka_boundary.py`` is."""

from __future__ import annotations

import collections

from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from pump.decode.parsed import Columns, Framed
from pump.decode.partition import Partitioner
from pump.output.kafka.batch import FramedBatch
from pump.output.kafka.framing import ArrowFramer


def framed_chunk(
    keys: list[bytes] | None, values: list[bytes], partitions: int, limit: int, cap: int, transactional: bool = False
) -> list[Framed] | None:
    import pyarrow as pa

    framer = ArrowFramer(Partitioner(partitions), limit, max_value=limit, cap=cap, transactional=transactional)
    arrays = Columns(None if keys is None else pa.array(keys, pa.binary()), pa.array(values, pa.binary()), 10)
    return framer.frame(arrays, 3)


def held_to_aiokafka(
    keys: list[bytes] | None, values: list[bytes], partitions: int, limit: int, cap: int, transactional: bool = False
) -> list[Framed]:
    """The chunk's framed batches, each checked against aiokafka's builder fed the same records (byte for byte, with
    and without an idempotent producer's numbers, as a transactional producer's where ``transactional``), and all of
    them against where the usual path puts each record. Also ``fuzz/framing.py``'s check."""
    n = len(values)
    framed = framed_chunk(keys, values, partitions, limit, cap, transactional)
    assert framed is not None
    records = [(None if keys is None else keys[i], values[i], 10 + i) for i in range(n)]
    expected = Partitioner(partitions).group(records, 3)  # where the usual path puts them, in the same order
    got: dict[int, list[tuple[bytes | None, bytes, int]]] = collections.defaultdict(list)
    for partition, data, count, nbytes, lines in framed:
        batch = DefaultRecordBatch(bytes(data))
        assert batch.validate_crc() and len(data) < limit and 0 < count <= cap
        stamp = batch.first_timestamp
        mine = [(r.key, r.value, line) for r, line in zip(batch, lines, strict=True)]
        assert nbytes == sum(len(v) for _, v, _ in mine)
        for producer in [(-1, -1, -1), (7, 2, 100 * partition)]:  # without idempotence; numbered as it is sent
            builder = DefaultRecordBatchBuilder(2, 0, int(transactional), *producer, 1 << 30)
            for offset, (key, value, _) in enumerate(mine):
                builder.append(offset, stamp, key, value, [])
            sent = FramedBatch(bytearray(data), count)
            if producer[0] != -1:
                sent._set_producer_state(*producer)
            assert bytes(builder.build()) == bytes(sent._build())  # header, offsets, varints, CRC: all aiokafka's
        got[partition] += mine
    assert got == expected
    return framed


def read_back(framed: list[Framed]) -> list[tuple[bytes | None, bytes]]:
    """Every record of framed batches as aiokafka's reader sees it, each batch's CRC and offsets checked."""
    out = []
    for _, data, count, _, lines in framed:
        parsed = DefaultRecordBatch(bytes(data))
        assert parsed.validate_crc()
        records = list(parsed)
        assert len(records) == count == len(lines)
        assert [r.offset for r in records] == list(range(count))  # offset deltas from each batch's first
        out += [(r.key, r.value) for r in records]
    return out
