"""Reading a topic back (``pump verify``): every partition, as a ``read_committed`` consumer sees it, from its start (or
a given offset or time) to its end as of the read's start; what is written meanwhile is not read.

A transaction's commit marker takes an offset of its own, and an aborted transaction's records are skipped: the read
ends when each partition's position reaches its end, not when some count of records arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from pump.config import ReplayConfig, named, verbatim
from pump.errors import BrokerError, TopicError
from pump.output.kafka.admin import admin_client
from pump.output.kafka.errors import describe
from pump.output.kafka.options import client_kwargs
from pump.output.kafka.waits import within

#: Records asked for at a time, and how long a read may see nothing new before it gives up on a partition's end. With
#: fetches of at most 1 MiB a partition, verify's peak RSS for 1M rides fell from 171 to 76 MB at the same speed
#: (4 MiB and 50,000 records before): what the consumer buffers ahead was most of verify's memory.
MOST_RECORDS, IDLE_SECONDS = 10_000, 30.0


#: One record read: its partition, offset, key and value.
Found = tuple[int, int, bytes | None, bytes]


@dataclass(frozen=True)
class Start:
    """Where the read starts in each partition: the start (neither set), the first record at or after ``timestamp``
    (epoch milliseconds), or ``offsets`` by partition (partitions not named: their start)."""

    timestamp: int | None = None
    offsets: Mapping[int, int] | None = None


class TopicReader:
    """``async with TopicReader(config, bootstrap, topic) as reader``: ``reader.partitions``, then ``reader.read()``.
    ``ends``: where each partition's read ends (a read again, of what an earlier one read); default: its end now."""

    def __init__(
        self, config: ReplayConfig, bootstrap: str, topic: str, start: Start | None = None, ends: dict[int, int] | None = None
    ) -> None:
        self.config, self.bootstrap, self.topic, self.start = config, bootstrap, topic, start or Start()
        self.partitions = 0
        self.ends: dict[int, int] = dict(ends or {})  # each partition's end as of the read's start
        self._fixed = ends is not None
        self._learned: set[int] = set()  # partitions whose end a fetch confirmed
        self.begins: dict[int, int] = {}  # where the read starts in each
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            isolation_level="read_committed",
            enable_auto_commit=False,
            request_timeout_ms=int(config.delivery.delivery_timeout * 1000),
            max_partition_fetch_bytes=1024 * 1024,
            fetch_max_wait_ms=100,  # a partition read to its end answers at once, not after the default 500 ms
            **client_kwargs(config.security),
        )

    async def __aenter__(self) -> TopicReader:
        timeout = self.config.producer.connect_timeout
        try:
            await within(self._consumer.start(), timeout)
            ids = await self._partitions()
            tps = [TopicPartition(self.topic, p) for p in ids]
            self._consumer.assign(tps)
            self.partitions = len(ids)
            if not self.ends:
                ends = await within(self._consumer.end_offsets(tps), timeout)
                self.ends = {tp.partition: end for tp, end in ends.items()}
            self.begins = await self._seek(tps)
        except BaseException as exc:
            await self._consumer.stop()
            if isinstance(exc, KafkaError | OSError | TimeoutError):
                raise BrokerError(f"cannot read topic {self.topic!r} at {self.bootstrap}: {describe(exc)}") from None
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    async def _partitions(self) -> list[int]:
        admin = admin_client(self.config, self.bootstrap)
        try:
            await within(admin.start(), self.config.producer.connect_timeout)
            [described] = await within(admin.describe_topics([self.topic]), self.config.producer.connect_timeout)
        finally:
            await admin.close()
        ids = sorted(p["partition"] for p in described.get("partitions") or ())
        if not ids:
            raise named(TopicError, f"topic {verbatim(repr(self.topic))} does not exist at {verbatim(self.bootstrap)}")
        return ids

    async def _seek(self, tps: list[TopicPartition]) -> dict[int, int]:
        consumer, start, timeout = self._consumer, self.start, self.config.producer.connect_timeout
        firsts = {tp.partition: o for tp, o in (await within(consumer.beginning_offsets(tps), timeout)).items()}
        if start.timestamp is not None:
            times = await within(consumer.offsets_for_times({tp: start.timestamp for tp in tps}), timeout)
            begins = {tp.partition: (at.offset if at is not None else self.ends[tp.partition]) for tp, at in times.items()}
        else:
            given = start.offsets or {}
            begins = {p: max(given.get(p, first), first) for p, first in firsts.items()}
        for tp in tps:
            consumer.seek(tp, begins[tp.partition])
        return begins

    def _learn(self, left: set[TopicPartition]) -> None:
        """A partition's end, as its first fetch says (its last stable offset) where that is further than the offsets
        asked for at the start said: Tansu answers those with its last batch's first offset, not the partition's end.
        Given ``ends`` (a read again), they stand."""
        for tp in left:
            if tp.partition in self._learned:
                continue
            stable = self._consumer.last_stable_offset(tp)
            if stable is not None:
                self._learned.add(tp.partition)
                if not self._fixed:
                    self.ends[tp.partition] = max(self.ends[tp.partition], stable)

    async def read(self) -> AsyncIterator[list[Found]]:
        """The records, a fetch at a time (each partition's in offset order), until every partition reached its end."""
        consumer = self._consumer
        left = {TopicPartition(self.topic, p) for p, end in self.ends.items() if self.begins[p] < end}
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while left:
                fetched = await consumer.getmany(*left, timeout_ms=1000, max_records=MOST_RECORDS)
                self._learn(left)
                batch = [(m.partition, m.offset, m.key, m.value) for messages in fetched.values() for m in messages
                         if m.offset < self.ends[m.partition]]  # fmt: skip
                if batch:
                    last = loop.time()
                    yield batch
                for tp in list(left):
                    if tp.partition in self._learned and await consumer.position(tp) >= self.ends[tp.partition]:
                        left.discard(tp)
                if left and loop.time() - last > IDLE_SECONDS:
                    where = ", ".join(f"{tp.partition} at {await consumer.position(tp)} of {self.ends[tp.partition]}"
                                      for tp in sorted(left))  # fmt: skip
                    raise BrokerError(f"reading topic {self.topic!r} stalled for {IDLE_SECONDS:.0f} s (partition {where})")
        except KafkaError as exc:
            raise BrokerError(f"cannot read topic {self.topic!r} at {self.bootstrap}: {describe(exc)}") from None
