"""Key -> partition, identical to Apache Kafka's Java default partitioner.

``Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions`` (and librdkafka's
``murmur2`` / ``murmur2_random`` partitioners), so that every client agrees on
where a key lives. Unkeyed records are spread by a sticky round-robin: each
chunk of input goes to the next partition, as Kafka's sticky partitioner
(KIP-480) does per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

R = TypeVar("R", bound=Sequence[object])  # a record tuple whose first item is its key (bytes or None)

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


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
    """Picks partitions for one topic. Caches keys, since replayed data repeats them."""

    __slots__ = ("_cache", "_cache_limit", "_next", "num_partitions")

    def __init__(self, num_partitions: int, cache_limit: int = 1 << 16) -> None:
        if num_partitions < 1:
            raise ValueError("a topic has at least one partition")
        self.num_partitions = num_partitions
        self._cache: dict[bytes, int] = {}
        self._cache_limit = cache_limit
        self._next = 0

    def for_key(self, key: bytes) -> int:
        part = self._cache.get(key)
        if part is None:
            part = java_partition(key, self.num_partitions)
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()
            self._cache[key] = part
        return part

    def sticky(self) -> int:
        """The partition for the next run of unkeyed records."""
        part = self._next
        self._next = (part + 1) % self.num_partitions
        return part


def group_keyed(records: list[R], partitioner: Partitioner) -> tuple[dict[int, list[R]], list[R]]:
    """Keyed records grouped by partition, input order kept in each; unkeyed records set apart."""
    grouped: dict[int, list[R]] = {}
    unkeyed: list[R] = []
    for_key = partitioner.for_key
    for rec in records:
        key = rec[0]
        if key is None:
            unkeyed.append(rec)
            continue
        part = for_key(key)  # type: ignore[arg-type]
        bucket = grouped.get(part)
        if bucket is None:
            grouped[part] = [rec]
        else:
            bucket.append(rec)
    return grouped, unkeyed
