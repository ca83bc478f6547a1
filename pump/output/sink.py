"""Where records go: the ``Sink`` protocol the send modes write to, and the ``Cluster`` that opens sinks.

A sink is one topic, open for the duration of an ``async with``. A send's ``on_done`` is
called later from the event loop (never from inside the send) with an opaque delivery
handle; ``sink.outcome(handle)`` says what became of it: ``None`` (acknowledged) or a
``DeliveryError``. The sink translates its client's errors there, at its own boundary, so
nothing past it knows which client it uses. (The handle is the client's own future, not a
wrapper: a wrapper per record costs an allocation and a call, measured at 7% of callback
mode's CPU.) pump ships two sinks:
``pump.output.kafka.KafkaCluster`` (aiokafka) and ``pump.output.memory.MemoryCluster``
(in memory, for tests and for library users' tests, as ``pump.testing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Self, runtime_checkable

from pump.account.deadletters import TopicSink
from pump.decode.parsed import Framed, Framer
from pump.decode.partition import Partitioner
from pump.records import DeliveryError, Record

Delivery = Any  # opaque: what a sink passes to on_done; only that sink's outcome() reads it
OnDone = Callable[[Delivery], None]
Headers = list[tuple[str, bytes]]
#: Where records come from, for ``--source-headers``: the input's name, and the header its line number goes in
#: (``pump.line``, or ``pump.row`` for a Parquet file).
Origin = tuple[bytes, str]
#: ``--record-timestamp event|shifted``: each record's timestamp (epoch milliseconds) by its line; None: the producer's
#: clock (``create``), as Kafka's clients do.
Stamps = dict[int, int]


def origin_headers(origin: Origin, line: int) -> Headers:
    """A record's ``--source-headers``: ``pump.file`` and ``pump.line`` (``pump.row``)."""
    return [("pump.file", origin[0]), (origin[1], b"%d" % line)]


def origin_bytes(origin: Origin | None) -> int:
    """At most what ``origin_headers`` add to a record, framing included (a size guard's margin)."""
    return 0 if origin is None else len(origin[0]) + len(origin[1]) + 48


class BatchBuilder(Protocol):
    """A batch being filled for one partition; ``append`` returns None when it is full."""

    def append(self, *, key: bytes | None, value: bytes, timestamp: int | None, extra: Headers | None = None) -> object | None:
        """``extra``: headers of this record only, after the sink's own (``--header``)."""
        ...

    def size(self) -> int:
        """Bytes written so far (before compression)."""
        ...

    def extend(
        self, records: list[Record], start: int, stop: int, limit: int, origin: Origin | None = None, stamps: Stamps | None = None
    ) -> tuple[int, int]:
        """Append ``records[start:stop]`` in order, stopping before a value over ``limit`` bytes or when the batch
        is full; returns the index reached and the value bytes appended (the hot path: one call per run).
        ``origin``: each record also gets its ``origin_headers``; ``stamps``: its timestamp by its line."""
        ...


def extend_by_append(
    batch: BatchBuilder,
    records: list[Record],
    start: int,
    stop: int,
    limit: int,
    origin: Origin | None = None,
    stamps: Stamps | None = None,
) -> tuple[int, int]:
    """``BatchBuilder.extend`` through ``append``, a record at a time: for builders without a faster way."""
    nbytes = 0
    for i in range(start, stop):
        key, value, line = records[i]
        extra = origin_headers(origin, line) if origin is not None else None
        timestamp = stamps[line] if stamps is not None else None
        if len(value) > limit or batch.append(key=key, value=value, timestamp=timestamp, extra=extra) is None:
            return i, nbytes
        nbytes += len(value)
    return stop, nbytes


class Sink(Protocol):
    """What pump needs of an output: a topic it can open, batches to fill and hand over, records to hand over one by
    one (the per-record modes), and what became of each. Its attributes are known once it is open."""

    topic: str
    partitions: int
    idempotent: bool  # whether retries can neither duplicate nor reorder records
    warnings: list[str]  # what the report should say about how the sink had to run
    max_batch_bytes: int | None  # the largest batch the topic accepts, if the broker says
    header_bytes: int  # what the headers on every record (--header) add to each

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def batch(self, framed: Framed | None = None) -> BatchBuilder:
        """A batch to fill for one partition; or, given ``framed`` (made by this sink's ``framer``), that batch, full."""

    def framer(self, partitioner: Partitioner, max_value: int, cap: int) -> Framer | None:
        """What makes this sink's record batches on the decode thread (``Framed``), if it can for how it sends;
        ``max_value``: a longer value is never framed; ``cap``: records a batch holds at most."""

    async def send_batch(self, batch: BatchBuilder, partition: int, on_done: OnDone) -> None:
        """Hand a batch over (may wait for room); raises ``DeliveryError`` if it cannot even be sent."""

    async def send(
        self,
        key: bytes | None,
        value: bytes,
        partition: int,
        on_done: OnDone,
        extra: Headers | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Hand one record over (may wait for room); raises ``DeliveryError`` if it cannot even be sent.
        ``timestamp``: epoch milliseconds, None for the producer's clock."""

    def outcome(self, delivery: Delivery) -> DeliveryError | None:
        """What became of a send whose ``on_done`` got ``delivery``: None if acknowledged, else why not."""

    def fits(self, key: bytes | None, value: bytes, extra_bytes: int = 0) -> bool:
        """Whether a batch of just this record (and ``extra_bytes`` of its own headers) is within ``max_batch_bytes``
        (an upper bound of its size)."""

    def hurry(self, seconds: float) -> None:
        """From now on, closing waits at most ``seconds`` for what is in flight (a shutdown is under way)."""


@runtime_checkable
class Transactional(Protocol):
    """A sink whose records go in transactions (``--exactly-once``): nothing sent is visible to ``read_committed``
    consumers until the transaction holding it commits, and then all of it is, with the position it reached. Raises
    ``TransactionAborted`` where a transaction cannot commit (it is then aborted), ``BrokerError`` where the sink cannot
    go on (fenced by another producer with its id, not authorized)."""

    async def begin(self) -> None:
        """Open the next transaction."""

    async def commit(self, positions: dict[bytes, bytes | None]) -> None:
        """Write ``positions`` (by key; None deletes a key) to the positions topic in the open transaction, then commit
        it."""

    async def abort(self) -> None:
        """Abort the open transaction (nothing in it becomes visible)."""

    async def beside(self, topic: str) -> TopicSink:
        """``topic`` through this sink's producer, in its transactions (dead letters to a topic)."""


class Cluster(Protocol):
    """Opens sinks. ``on_retry`` is told of every produce retry a sink's client makes."""

    def sink(self, topic: str, partitions: int, on_retry: Callable[[], None] | None = None) -> Sink:
        """A sink for ``topic`` (``partitions``: for the topic's creation, when the settings allow it)."""
        ...

    async def committed(self, job: str) -> dict[str, bytes]:
        """``--exactly-once``: the last positions committed by each member of ``job``, by member (making the positions
        topic if missing)."""
        ...
