"""What a user would check of records read back from a topic, written once for every test that checks it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import msgspec

from pump.decode import java_partition


class Read(Protocol):
    """A record read back: from a real broker (``tests.support.kafka.Message``) or the memory cluster."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...


def in_key_order(messages: Iterable[Read], partitions: int | None = None, seq_of: str = "seq") -> dict[bytes | None, list[int]]:
    """Checks that each key's records arrived in input order (their ``seq_of`` field rising, read partition by
    partition in offset order) and, given the topic's ``partitions``, each on the partition Kafka's Java client
    picks for its key. Returns each key's sequence numbers, in that order."""
    by_key: dict[bytes | None, list[int]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if partitions is not None:
            assert m.key is not None, f"an unkeyed record on partition {m.partition}"
            assert m.partition == java_partition(m.key, partitions), f"key {m.key!r} on the wrong partition"
        seq = int(msgspec.json.decode(m.value)[seq_of])
        seqs = by_key.setdefault(m.key, [])
        assert not seqs or seq > seqs[-1], f"key {m.key!r} out of order: {seq} after {seqs[-1]}"
        seqs.append(seq)
    return by_key
