"""Key -> partition, identical to Apache Kafka's Java default partitioner.

``Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions`` (and librdkafka's
``murmur2`` / ``murmur2_random`` partitioners), so that every client agrees on
where a key lives; the empty key ``b""`` is a key like any other. Unkeyed records
are spread sticky: all of a chunk's unkeyed records go to one partition, and
consecutive chunks to consecutive partitions (``seq % partitions``), as Kafka's
sticky partitioner (KIP-480) does per batch. The choice depends only on the
chunk, so decode processes make it exactly as the main process would. A run that
sends only some partitions (``--shard-by partition``, ``--processes``) spreads them by
line instead, ``(line // 4096) % partitions``: every process must put a record where
the others expect it, even after each resumed from its own position (chunks then
start at other lines, so a chunk's number is not the same in each).

This is the one place records are assigned partitions.
"""

from __future__ import annotations

from pump.records import ByPartition, Record

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
LINES_PER_STICKY_BLOCK = 4096


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data``, as a signed 32-bit int (Java's ``Utils.murmur2``)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    n4 = length & ~3
    for i in range(0, n4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[n4 + 2] << 16
    if rest >= 2:
        h ^= data[n4 + 1] << 8
    if rest >= 1:
        h ^= data[n4]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, num_partitions: int) -> int:
    """The partition Kafka's Java default partitioner picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


class Partitioner:
    """Assigns one topic's partitions. Caches keys, since replayed data repeats them."""

    __slots__ = ("_cache", "_cache_limit", "first", "num_partitions", "shard")

    def __init__(self, num_partitions: int, cache_limit: int = 1 << 16, shard: tuple[int, int] | None = None) -> None:
        """``shard`` ``(i, n)``: this run sends only partitions ``p % n == i`` (``--shard-by partition``)."""
        if num_partitions < 1:
            raise ValueError("a topic has at least one partition")
        self.num_partitions = num_partitions
        self.shard = shard
        self.first = shard is None or shard[0] == 0
        self._cache: dict[bytes, int] = {}
        self._cache_limit = cache_limit

    def for_key(self, key: bytes) -> int:
        part = self._cache.get(key)
        if part is None:
            part = java_partition(key, self.num_partitions)
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()
            self._cache[key] = part
        return part

    def sends(self, key: bytes | None, line: int) -> bool:
        """Whether this run sends the record of ``line`` with ``key`` (always, unless sharded by partition)."""
        if self.shard is None:
            return True
        part = line // LINES_PER_STICKY_BLOCK % self.num_partitions if key is None else self.for_key(key)
        return part % self.shard[1] == self.shard[0]

    def sticky(self, seq: int) -> int:
        """The partition for chunk ``seq``'s unkeyed records."""
        return seq % self.num_partitions

    def group(self, records: list[Record], seq: int) -> ByPartition:
        """Records by partition, input order kept within each; ``seq`` is their chunk's place in the input."""
        grouped: ByPartition = {}
        unkeyed: list[Record] = []
        cache = self._cache
        for rec in records:
            key, _value, _line = rec
            if key is None:
                unkeyed.append(rec)
                continue
            part = cache.get(key)
            if part is None:
                part = self.for_key(key)
            bucket = grouped.get(part)
            if bucket is None:
                grouped[part] = [rec]
            else:
                bucket.append(rec)
        if unkeyed and self.shard is None:
            grouped.setdefault(self.sticky(seq), []).extend(unkeyed)
        elif unkeyed:
            for rec in unkeyed:
                grouped.setdefault(rec[2] // LINES_PER_STICKY_BLOCK % self.num_partitions, []).append(rec)
        return grouped
