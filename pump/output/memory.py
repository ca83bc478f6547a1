"""An in-memory cluster: sinks that keep what they are sent, for tests that need no broker.

As httpcore ships an in-memory network backend, pump ships this (also as ``pump.testing``):

    cluster = MemoryCluster(partitions=4)
    report = await pump.replay(config, cluster=cluster)
    assert [m.value for m in cluster.messages("rides")] == [...]

By default every send is acknowledged on the next turn of the event loop. ``hold=True``
keeps outcomes pending until ``settle()``; ``fail(key, value)`` may return a
``DeliveryError`` for a record (its whole send fails); ``missing`` topics make opening a
sink fail as a missing topic does. Its sinks take transactions too (``--exactly-once``): what a transaction holds
joins the topic when it commits, with its position (``positions``), and is dropped when it aborts; ``abort_commits``
makes that many commits fail, ``abort_at`` the commits of those numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from pump.account.positions import of_job
from pump.decode.parsed import Framed, Framer
from pump.decode.partition import Partitioner
from pump.errors import TopicError, TransactionAborted
from pump.output.sink import Headers, OnDone, Origin, Stamps, extend_by_append
from pump.records import DeliveryError, Record


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int | None = None  # epoch ms as sent (None: the producer's clock, which the memory sink does not keep)


BATCH_HEADER = 61  # bytes of a v2 record batch's header
RECORD_FRAMING = 21  # at most, a record's own length, attributes, deltas and sizes


def record_size(key: bytes | None, value: bytes) -> int:
    return len(value) + (len(key) if key is not None else 0) + RECORD_FRAMING


class MemoryBatch:
    """Holds up to ``capacity`` records (and ``max_bytes``, if set), like a producer's batch builder: an empty
    batch takes any record, a non-empty one refuses what would not fit."""

    def __init__(self, capacity: int, max_bytes: int | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.records: list[tuple[bytes | None, bytes, int | None]] = []
        self._size = BATCH_HEADER

    def append(self, *, key: bytes | None, value: bytes, timestamp: int | None, extra: Headers | None = None) -> object | None:
        grown = self._size + record_size(key, value)
        if self.records and (len(self.records) >= self.capacity or (self.max_bytes is not None and grown > self.max_bytes)):
            return None
        self.records.append((key, value, timestamp))
        self._size = grown
        return True

    def size(self) -> int:
        return self._size

    def extend(
        self, records: list[Record], start: int, stop: int, limit: int, origin: Origin | None = None, stamps: Stamps | None = None
    ) -> tuple[int, int]:
        return extend_by_append(self, records, start, stop, limit, None, stamps)  # the memory sink keeps no headers


@dataclass
class _Pending:
    topic: str
    partition: int
    records: list[tuple[bytes | None, bytes, int | None]]
    on_done: OnDone
    held: list[_Pending] | None = None  # the open transaction it is in: it joins the topic when that commits


@dataclass
class MemoryCluster:
    partitions: int = 1
    batch_capacity: int = 100
    hold: bool = False
    fail: Callable[[bytes | None, bytes], DeliveryError | None] | None = None
    missing: frozenset[str] = frozenset()
    max_batch_bytes: int | None = None  # as a topic's max.message.bytes: batches over it would be refused
    logs: dict[str, list[Message]] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    sends: int = 0  # calls of send() and send_batch(), over every sink
    refused: int = 0  # batches refused for being over max_batch_bytes
    hurried: float | None = None  # the last bound a sink was given on its closing (a shutdown under way)
    positions: dict[str, bytes] = field(default_factory=dict)  # --exactly-once: each key's last committed position
    commits: int = 0
    aborts: int = 0
    abort_commits: int = 0  # how many commits to come fail (and abort), as a broker's trouble would make them
    abort_at: frozenset[int] = frozenset()  # which commits fail, counted from 1 over every sink's commits
    _commit_calls: int = 0
    _ends: dict[tuple[str, int], int] = field(default_factory=dict)

    def sink(self, topic: str, partitions: int, on_retry: Callable[[], None] | None = None) -> MemorySink:
        return MemorySink(self, topic)

    async def committed(self, job: str) -> dict[str, bytes]:
        return {key: value for key, value in self.positions.items() if of_job(job, key)}

    def messages(self, topic: str) -> list[Message]:
        """What the topic holds (acknowledged messages only), by partition then offset."""
        return sorted(self.logs.get(topic, []), key=lambda m: (m.partition, m.offset))

    def settle(self, error: DeliveryError | None = None) -> int:
        """Acknowledge (or fail with ``error``) every held send; returns how many sends were settled."""
        pending, self.pending = self.pending, []
        for p in pending:
            self._complete(p, error)
        return len(pending)

    def _deliver(self, pending: _Pending) -> None:
        self.sends += 1
        if self.hold:
            self.pending.append(pending)
        else:
            asyncio.get_running_loop().call_soon(self._complete, pending, None)

    def _complete(self, pending: _Pending, error: DeliveryError | None) -> None:
        size = BATCH_HEADER + sum(record_size(k, v) for k, v, _ in pending.records)
        if error is None and self.max_batch_bytes is not None and size > self.max_batch_bytes:
            self.refused += 1
            error = DeliveryError("too_large", f"a batch of {size} bytes is over the topic's {self.max_batch_bytes}")
        if error is None and self.fail is not None:
            error = next((e for e in (self.fail(k, v) for k, v, _ in pending.records) if e is not None), None)
        if error is None and pending.held is not None:
            pending.held.append(pending)
        elif error is None:
            self._append(pending)
        pending.on_done(error)  # the delivery handle is the outcome itself

    def _append(self, pending: _Pending) -> None:
        log = self.logs.setdefault(pending.topic, [])
        base = self._ends.get((pending.topic, pending.partition), 0)
        self._ends[(pending.topic, pending.partition)] = base + len(pending.records)
        log.extend(Message(pending.topic, pending.partition, base + i, *kvt) for i, kvt in enumerate(pending.records))


class MemorySink:
    def __init__(self, cluster: MemoryCluster, topic: str, owner: MemorySink | None = None) -> None:
        self.cluster = cluster
        self.topic = topic
        self._held: list[_Pending] | None = None  # the open transaction's sends
        self._owner = owner or self  # whose transactions its sends are in (``beside``)
        self._transactional = False  # it began a transaction: from then on, as aiokafka, it sends only in one
        self.partitions = 0
        self.idempotent = False
        self.warnings: list[str] = []
        self.max_batch_bytes = cluster.max_batch_bytes
        self.header_bytes = 0  # the memory sink keeps no headers

    async def __aenter__(self) -> MemorySink:
        if self.topic in self.cluster.missing:
            raise TopicError(f"topic {self.topic!r} does not exist (in memory)")
        self.partitions = self.cluster.partitions
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def framer(self, partitioner: Partitioner, max_value: int, cap: int) -> Framer | None:
        return None  # records, one by one, are what tests look at

    def batch(self, framed: Framed | None = None) -> MemoryBatch:
        if framed is not None:
            raise TypeError("a memory sink frames nothing")
        return MemoryBatch(self.cluster.batch_capacity, self.max_batch_bytes)

    def fits(self, key: bytes | None, value: bytes, extra_bytes: int = 0) -> bool:
        return self.max_batch_bytes is None or BATCH_HEADER + record_size(key, value) <= self.max_batch_bytes

    async def send_batch(self, batch: MemoryBatch, partition: int, on_done: OnDone) -> None:  # type: ignore[override]
        self._in_transaction()
        self.cluster._deliver(_Pending(self.topic, partition, list(batch.records), on_done, self._owner._held))

    async def send(
        self,
        key: bytes | None,
        value: bytes,
        partition: int,
        on_done: OnDone,
        extra: Headers | None = None,
        timestamp: int | None = None,
    ) -> None:
        self._in_transaction()
        self.cluster._deliver(_Pending(self.topic, partition, [(key, value, timestamp)], on_done, self._owner._held))

    def _in_transaction(self) -> None:
        """A sink that began transactions refuses a send outside one, as aiokafka does (``IllegalOperation``)."""
        if self._owner._transactional and self._owner._held is None:
            raise DeliveryError("other", "IllegalOperation: Can't send messages while not in transaction (in memory)")

    def outcome(self, delivery: DeliveryError | None) -> DeliveryError | None:
        return delivery

    def hurry(self, seconds: float) -> None:
        self.cluster.hurried = seconds

    async def begin(self) -> None:
        self._held = []
        self._transactional = True

    async def commit(self, positions: dict[bytes, bytes | None]) -> None:
        held, self._held = self._held or [], None
        cluster = self.cluster
        cluster._commit_calls += 1
        if cluster.abort_commits or cluster._commit_calls in cluster.abort_at:
            cluster.abort_commits = max(cluster.abort_commits - 1, 0)
            cluster.aborts += 1
            raise TransactionAborted("a transaction was aborted: its commit failed (in memory)")
        for pending in held:
            cluster._append(pending)
        for key, position in positions.items():
            if position is None:
                cluster.positions.pop(key.decode(), None)
            else:
                cluster.positions[key.decode()] = position
        cluster.commits += 1

    async def abort(self) -> None:
        self._held = None
        self.cluster.aborts += 1

    async def beside(self, topic: str) -> MemorySink:
        """``topic`` in this sink's transactions: its sends are held with this sink's, and join their topic with them."""
        other = MemorySink(self.cluster, topic, owner=self)
        other.partitions = self.cluster.partitions
        return other
