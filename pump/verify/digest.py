"""What ``pump verify`` keeps of the records on each side: digests first, details only where digests differ.

A record is its key and value, hashed (Python's own hash of the pair: SipHash, 64 bits, seeded afresh in each process,
so both sides are hashed by the same process; four times as fast as BLAKE2b, which was most of verify's time).
``Digests`` folds each partition's records into a count, a sum of their hashes (equal
exactly when the same records are there, however ordered) and a chain (equal when they are also in the same order),
in constant memory. Records without a key go where the producer pleased: they are folded into one digest for the
whole topic, with no order.

``Detail`` keeps, for the partitions whose digests differ, every record of the keys in one bucket (a share of the keys,
so that memory stays bounded): per key, in order, each record's hash and where it is (an input's name and line where
expected, a partition and offset where found). Comparing two details names what is missing, twice, unexpected, on
another partition than its key's, or out of order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from pump.records import Record

MASK = (1 << 64) - 1
#: An odd multiplier: the chain is a polynomial of the hashes in order, modulo 2**64.
CHAIN = 0x9E3779B97F4A7C15


def record_hash(key: bytes | None, value: bytes) -> int:
    """The record's 64-bit hash (the same in one process only)."""
    return hash((key, value)) & MASK


class Digests:
    """Per partition: how many records, the sum of their hashes, their chain; and the records without a key."""

    def __init__(self, partitions: int) -> None:
        self.counts = [0] * partitions
        self.sums = [0] * partitions
        self.chains = [0] * partitions
        self.keyless = [0, 0]  # count, sum

    def expected(self, records: list[Record], partition: int, name: str) -> None:
        """``records`` as the replay would send them to ``partition`` (from the input ``name``)."""
        count, total, chain = self.counts[partition], self.sums[partition], self.chains[partition]
        for key, value, _line in records:
            h = hash((key, value)) & MASK
            if key is None:
                self.keyless[0] += 1
                self.keyless[1] = (self.keyless[1] + h) & MASK
                continue
            count += 1
            total += h
            chain = (chain * CHAIN + h) & MASK
        self.counts[partition], self.sums[partition], self.chains[partition] = count, total & MASK, chain

    def found(self, records: Iterable[tuple[int, int, bytes | None, bytes]]) -> None:
        """``records`` read from the topic: partition, offset, key, value."""
        counts, sums, chains, keyless = self.counts, self.sums, self.chains, self.keyless
        for partition, _offset, key, value in records:
            h = hash((key, value)) & MASK
            if key is None:
                keyless[0] += 1
                keyless[1] = (keyless[1] + h) & MASK
                continue
            counts[partition] += 1
            sums[partition] = (sums[partition] + h) & MASK
            chains[partition] = (chains[partition] * CHAIN + h) & MASK

    def total(self) -> int:
        return sum(self.counts) + self.keyless[0]


def differing(expected: Digests, found: Digests) -> tuple[list[int], list[int], bool]:
    """The partitions whose records differ, those whose records are the same but not in the same order, and whether
    the records without a key differ."""
    content = [p for p in range(len(found.counts))
               if (expected.counts[p], expected.sums[p]) != (found.counts[p], found.sums[p])]  # fmt: skip
    order = [p for p in range(len(found.counts)) if p not in content and expected.chains[p] != found.chains[p]]
    return content, order, expected.keyless != found.keyless


class Detail:
    """Every record of the chosen partitions whose key falls in bucket ``bucket`` of ``buckets`` (and, with
    ``keyless``, in bucket 0, the records without a key): per key, in order, ``(hash, where, at, partition)``, where
    ``where``/``at`` are an input's name and line (expected) or ``""`` and the offset (found)."""

    def __init__(self, partitions: Iterable[int], keyless: bool, buckets: int, bucket: int) -> None:
        self.partitions = frozenset(partitions)
        self.keyless = keyless and bucket == 0
        self.buckets, self.bucket = buckets, bucket
        self.keys: dict[bytes | None, list[tuple[int, str, int, int]]] = {}

    def _wants(self, key: bytes | None, partition: int) -> bool:
        if key is None:
            return self.keyless
        return partition in self.partitions and zlib.crc32(key) % self.buckets == self.bucket

    def expected(self, records: list[Record], partition: int, name: str) -> None:
        for key, value, line in records:
            if self._wants(key, partition):
                self.keys.setdefault(key, []).append((record_hash(key, value), name, line, partition))

    def found(self, records: Iterable[tuple[int, int, bytes | None, bytes]]) -> None:
        for partition, offset, key, value in records:
            if self._wants(key, partition):
                self.keys.setdefault(key, []).append((record_hash(key, value), "", offset, partition))
