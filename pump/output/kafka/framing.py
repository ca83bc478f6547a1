"""Kafka record batches made whole in Arrow, on the decode thread: the event loop only ships them.

aiokafka's builder takes records one call at a time on the event loop (0.3-0.6 us each for a ride, with
the GIL held), then checksums the batch in software (0.66 ns a byte, 0.27 us a ride). For a chunk that is
already Arrow arrays (CSV rows on the fast path, Parquet rows their types vouch for: each row's key and JSON
value), the same bytes come
from a few kernels, which release the GIL: partitions from the distinct keys, a stable sort by partition,
each record's varints from a table, and one element-wise join that writes the records back to back, a
partition's run at a time. The batch header follows Kafka's ``DefaultRecordBatch`` (magic 2), and its
CRC-32C comes from the ``crc32c`` package (the CPU's instruction where it has one). On one thread this costs
about what it replaces (1.2-1.3 us a ride, against 1.2-1.6 for the records made in Python, grouped, and put
through aiokafka's builder), but in kernels that release the GIL, off the event loop: whole ``pump replay``
processes of 1M rides as CSV took 3.63 s against 4.73 (``docs/performance.md``).

Only what aiokafka's own batches would hold: no headers, no compression, every record stamped with the time
its chunk was framed (a record's own time goes through aiokafka); a transactional producer's batches
(``--exactly-once``) carry the transactional bit, as aiokafka's builder sets it. An idempotent producer numbers each batch
as it sends it (``set_producer``: the numbers written in, the CRC made again: 56-61 us for 1 MiB, on the
event loop). A chunk this cannot frame as asked (a value over ``--max-message-bytes``, a record that fits no
batch) returns None, and its records take aiokafka's path, which reports them one by one.
"""

from __future__ import annotations

import functools
import struct
import time
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from crc32c import crc32c

from pump.decode.parsed import Columns, Framed
from pump.decode.partition import Partitioner
from pump.output.kafka.recordframing import _AFTER_CRC, _BEFORE_CRC, _CRC, _CRC_FROM, HEADER, _varint, frame_values

if TYPE_CHECKING:
    import pyarrow as pa

_PRODUCER = struct.Struct(">qhi")  # producer id, epoch, base sequence
_PRODUCER_AT = 43
_TRANSACTIONAL = 0x10  # the attributes' bit of a transactional producer's batch
_LARGEST = 1 << 20  # a varint table covers at most this (a record, or a chunk's rows); beyond, aiokafka's path


@functools.cache
def available() -> bool:
    """Whether aiokafka's batches are still what ``batch.FramedBatch`` stands in for (``internals``). Arrow arrays to
    frame (``Columns``) come only from decoders that have pyarrow."""
    from pump.output.kafka.internals import framed_batches

    return framed_batches()


class ArrowFramer:
    """Frames one topic's chunks into record batches of at most ``limit`` bytes and ``cap`` records."""

    def __init__(self, partitioner: Partitioner, limit: int, max_value: int, cap: int, transactional: bool = False) -> None:
        """``transactional``: the batches are marked as a transactional producer's (``--exactly-once``)."""
        self.partitioner = partitioner
        self.attributes = _TRANSACTIONAL if transactional else 0
        self.room = limit - HEADER - 1  # aiokafka's batches stay below their size
        self.max_value = max_value
        self.cap = cap
        self._tables: _Varints | None = None  # made at the first chunk framed (pyarrow is imported by then)

    def values(self, partition: int, values: list[bytes], first_line: int) -> list[Framed] | None:
        """Unkeyed values of consecutive lines, for one partition, as batches (``recordframing``)."""
        return frame_values(partition, values, first_line, self.room, self.cap, self.max_value, self.attributes)

    def frame(self, columns: Columns, seq: int) -> list[Framed] | None:
        """The chunk's batches, in partition order, or None where aiokafka must take its records. ``seq``: the
        chunk's place in the run, which picks unkeyed records' partition."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keys, values = columns.keys, columns.values
        n = len(values)
        if n == 0:
            return None
        value_bytes = pc.binary_length(values)
        longest = pc.max(value_bytes).as_py()
        longest_record = longest + 32 + (0 if keys is None else pc.max(pc.binary_length(keys)).as_py())
        if longest > self.max_value or longest_record > self.room or max(n, longest_record) > _LARGEST:
            return None  # a value aiokafka's path fails on its own, or a record no batch holds
        tables = self._tables
        if tables is None or max(n, longest_record) > tables.size:  # two-byte varints at first, more if a chunk needs
            tables = self._tables = _Varints(max(n, longest_record, 1 << 13))
        if keys is None:  # unkeyed: the chunk's sticky partition, in input order
            order = None
            runs = [(self.partitioner.sticky(seq), 0, n)]
        else:
            codes = pc.dictionary_encode(keys)
            partition_of = self.partitioner.for_key
            by_code = pa.array([partition_of(key) for key in codes.dictionary.to_pylist()], pa.int32())
            partitions = by_code.take(codes.indices)
            counts = sorted((c["values"], c["counts"]) for c in pc.value_counts(partitions).to_pylist())
            order = None  # one partition (a topic of one, or one key): the records are in order already
            if len(counts) > 1:
                order = pc.sort_indices(partitions)  # stable: input order within each partition
                keys, values, value_bytes = keys.take(order), values.take(order), value_bytes.take(order)
            runs, start = [], 0
            for partition, count in counts:
                runs.append((partition, start, start + count))
                start += count
        batches = runs
        records = _records(tables, keys, values, value_bytes, batches)
        offsets = memoryview(records.buffers()[1]).cast("i")[records.offset :]
        split = self._split(batches, offsets)
        if split is not batches:
            batches = split
            records = _records(tables, keys, values, value_bytes, batches)
            offsets = memoryview(records.buffers()[1]).cast("i")[records.offset :]
        data = memoryview(records.buffers()[2])  # type: ignore[union-attr]
        lines = pc.add(pa.array(range(n), pa.int64()) if order is None else order, columns.first_line)
        stamp = int(time.time() * 1000)
        framed: list[Framed] = []
        for partition, a, b in batches:
            count = b - a
            batch = bytearray(HEADER) + data[offsets[a] : offsets[b]]
            _AFTER_CRC.pack_into(batch, _CRC_FROM, self.attributes, count - 1, stamp, stamp, -1, -1, -1, count)
            _BEFORE_CRC.pack_into(batch, 0, 0, len(batch) - 12, -1, 2)
            _CRC.pack_into(batch, 17, crc32c(memoryview(batch)[_CRC_FROM:]))
            nbytes = pc.sum(value_bytes.slice(a, count)).as_py()
            framed.append((partition, batch, count, nbytes, lines.slice(a, count).to_pylist()))
        return framed

    def _split(self, batches: list[tuple[int, int, int]], offsets: memoryview) -> list[tuple[int, int, int]]:
        """``batches`` where each fits (``room`` bytes, ``cap`` records), else each cut into runs that do. Records
        framed again for their new batches only get shorter (smaller offset deltas), so the cuts stay good."""
        if all(offsets[b] - offsets[a] <= self.room and b - a <= self.cap for _, a, b in batches):
            return batches
        cut = []
        for partition, a, b in batches:
            i = a
            while i < b:
                j = bisect_right(offsets, offsets[i] + self.room, i + 1, b + 1) - 1
                j = min(max(j, i + 1), i + self.cap)
                cut.append((partition, i, j))
                i = j
        return cut


class _Varints:
    """Kafka's varints of 0 to ``size - 1`` as an Arrow array to ``take`` from, their lengths, and the constant parts
    of a record: the framer looks each record's up instead of encoding it."""

    def __init__(self, size: int) -> None:
        import pyarrow as pa

        self.size = size
        encoded = [_varint(i) for i in range(size)]
        self.varints = pa.array(encoded, pa.binary())
        self.lengths = pa.array([len(v) for v in encoded], pa.int32())
        self.counting = pa.array(range(size), pa.int32())  # offset deltas of a batch that starts at a run's start
        self.attributes = pa.scalar(b"\x00\x00", pa.binary())  # attributes 0, timestamp delta 0
        self.no_headers = pa.scalar(b"\x00", pa.binary())
        self.null_key = pa.scalar(_varint(-1), pa.binary())
        self.nothing = pa.scalar(b"", pa.binary())


def _records(
    tables: _Varints, keys: pa.Array | None, values: pa.Array, value_bytes: pa.Array, batches: list[tuple[int, int, int]]
) -> pa.Array:
    """Every record, framed, back to back: batch by batch, each record's offset delta counted from its batch's first.
    A record: its length, attributes, timestamp delta, offset delta, key length and key, value length and value,
    header count (Kafka's ``DefaultRecord``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    delta = tables.counting.slice(0, n)  # a record's place in the chunk, less its batch's first's
    if len(batches) > 1:
        firsts = pa.RunEndEncodedArray.from_arrays(pa.array([b for _, _, b in batches], pa.int32()),
                                                   pa.array([a for _, a, _ in batches], pa.int32()))  # fmt: skip
        delta = pc.subtract(delta, pc.run_end_decode(firsts))
    varints, lengths = tables.varints, tables.lengths
    body = pc.add(pc.add(lengths.take(delta), lengths.take(value_bytes)), pc.add(value_bytes, 3))
    if keys is None:
        body = pc.add(body, 1)
        key_parts: list[Any] = [tables.null_key]
    else:
        key_bytes = pc.binary_length(keys)
        body = pc.add(body, pc.add(lengths.take(key_bytes), key_bytes))
        key_parts = [varints.take(key_bytes), keys]
    framing = [varints.take(body), tables.attributes, varints.take(delta), *key_parts, varints.take(value_bytes), values]
    return pc.binary_join_element_wise(*framing, tables.no_headers, tables.nothing)


def set_producer(batch: bytearray, producer_id: int, producer_epoch: int, base_sequence: int) -> None:
    """An idempotent producer's numbers, written into a framed batch as it is sent (aiokafka sets them when it takes
    the batch from its queue), and the CRC, which covers them, made again."""
    _PRODUCER.pack_into(batch, _PRODUCER_AT, producer_id, producer_epoch, base_sequence)
    _CRC.pack_into(batch, 17, crc32c(memoryview(batch)[_CRC_FROM:]))
