"""The one module that owns aiokafka's producer: ``KafkaCluster`` opens ``KafkaSink``s, one producer each.

A sink starts and stops its producer (nothing else calls ``start()``/``stop()``), makes
sure its topic exists, and hands records and batches over, reporting each outcome as
``None`` or a ``DeliveryError``: aiokafka's errors stop here (``errors.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

import pump.output.kafka.transactional as transactional
from pump.config import ReplayConfig, config_error, verbatim
from pump.decode.parsed import Framed
from pump.decode.partition import Partitioner
from pump.output.kafka.admin import batch_limit, ensure_topic
from pump.output.kafka.batch import FramedBatch, KafkaBatch
from pump.output.kafka.closing import settle
from pump.output.kafka.errors import (
    DELIVERY_ERRORS,
    connect_error,
    describe,
    failure_of,
    lost_connection,
    not_authorized,
    refused_idempotence,
)
from pump.output.kafka.expiry import any_expired, fail_expired, outstanding
from pump.output.kafka.framing import ArrowFramer
from pump.output.kafka.framing import available as framing_available
from pump.output.kafka.logs import Tap
from pump.output.kafka.options import producer_kwargs
from pump.output.kafka.positions import committed_positions, ensure_positions_topic
from pump.output.kafka.waits import within
from pump.output.kafka.wire import install as install_wire
from pump.output.sink import Headers, OnDone
from pump.records import DeliveryError

#: Seconds between starts of a transactional producer whose coordinator went away while it started.
RESTART_PAUSE = 0.5


class KafkaCluster:
    """Sinks on one Kafka cluster. ``bootstrap``: as resolved (for ``embedded``, the broker's address)."""

    def __init__(self, config: ReplayConfig, bootstrap: str) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.kwargs = producer_kwargs(config, bootstrap)  # refuses conflicting -X options before anything starts
        install_wire()  # produce requests encoded and written without copying their batches, where aiokafka allows

    def sink(self, topic: str, partitions: int, on_retry: Callable[[], None] | None = None) -> KafkaSink:
        return KafkaSink(self, topic, partitions, on_retry)

    async def committed(self, job: str) -> dict[str, bytes]:
        await ensure_positions_topic(self.config, self.bootstrap)
        return await committed_positions(self.config, self.bootstrap, job)


class KafkaSink:
    """One topic through one producer: ``async with cluster.sink(topic, partitions) as sink``."""

    def __init__(self, cluster: KafkaCluster, topic: str, partitions: int, on_retry: Callable[[], None] | None) -> None:
        self.cluster = cluster
        self.topic = topic
        self.partitions = 0
        self._create_partitions = partitions
        self._tap = Tap(on_retry)
        self._headers = [(k, v.encode()) for k, v in cluster.config.delivery.headers.items()]  # --header
        self.header_bytes = sum(len(k.encode()) + len(v) + 10 for k, v in self._headers)  # with their varint framing
        self._stop_within: float | None = None  # set on shutdown: do not wait forever on a dead broker
        self.warnings: list[str] = []
        self.max_batch_bytes: int | None = None
        self.idempotent = bool(cluster.kwargs["enable_idempotence"])
        self._transactional_id: str | None = cluster.kwargs.get("transactional_id")
        self._kwargs = cluster.kwargs  # as the producer runs now (a fallback or a topic's limit may change them)
        self._producer = self._make(self._kwargs)
        self._watchdog: asyncio.Task[None] | None = None  # the idempotent producer's delivery timeout
        self._held = False  # while the producer is renewed, or after a renewal failed: sends go through _ready()
        self._renewed = asyncio.Event()  # set when a renewal ends (well or not)
        self._broken: BaseException | None = None  # a new producer that could not start: every later send raises it
        self._closing = False  # the watchdog's stop: aiokafka's close() swallows a cancellation now and then
        self._retired: list[AIOKafkaProducer] = []  # producers renewed away from, closed once more at the end
        self._starting = asyncio.Lock()  # one send starts the producer that follows a renewal; the others wait

    @staticmethod
    def _make(kwargs: dict[str, Any]) -> AIOKafkaProducer:
        try:
            return AIOKafkaProducer(**kwargs)
        except TypeError as exc:
            raise config_error(f"{{options}}: not an aiokafka producer argument ({verbatim(exc)})") from None
        except RuntimeError as exc:  # aiokafka: "Compression library for zstd not found"
            raise config_error(f"{{compression}}: {verbatim(exc)} (pip install 'aiokafka[snappy,lz4,zstd]')") from None
        except (ValueError, AssertionError, KafkaError) as exc:
            raise config_error(f"producer settings rejected: {verbatim(exc)}") from None

    async def __aenter__(self) -> KafkaSink:
        config, bootstrap = self.cluster.config, self.cluster.bootstrap
        self._tap.attach()
        try:
            try:
                await self._start()
            except KafkaError as exc:
                auto = config.producer.idempotence == "auto" and not self._transactional_id
                if not (self.idempotent and auto and refused_idempotence(exc, config)):
                    raise
                await self._without_idempotence(describe(exc))
            self.partitions = await ensure_topic(self._producer, config, bootstrap, self.topic, self._create_partitions)
            await self._fit_batches(await batch_limit(config, bootstrap, self.topic))
            if self.idempotent and not self._transactional_id:  # a transaction that cannot commit is aborted instead
                self._watchdog = asyncio.create_task(self._expire(), name="pump-delivery-timeout")
        except BaseException as exc:
            await self._producer.stop()
            await settle()
            self._tap.detach()
            error = connect_error(exc, self._tap.causes, config, bootstrap, self.topic)
            if error is None:
                raise
            raise error from None
        return self

    async def _start(self) -> None:
        """Start the producer. A transactional one that lost its connection to the coordinator while starting (its
        broker died: the coordinator moves to another) is made again and started, until ``connect_timeout`` is spent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cluster.config.producer.connect_timeout
        while True:
            try:
                with self._tap.starting():
                    await within(self._producer.start(), max(deadline - loop.time(), 0.0))
                return
            except KafkaError as exc:
                if not (self._transactional_id and lost_connection(exc)) or loop.time() >= deadline:
                    raise
            await self._producer.stop()
            await asyncio.sleep(RESTART_PAUSE)
            self._producer = self._make(self._kwargs)

    async def _without_idempotence(self, why: str) -> None:
        """``idempotence auto`` and a broker that refuses it (Tansu does): go on without, and say so once."""
        await self._producer.stop()
        self.warnings.append(
            f"the broker at {self.cluster.bootstrap} refused the idempotent producer ({why}); sending without it:"
            " a retried send may be written twice"
        )
        self.idempotent = False
        self._kwargs = {**self._kwargs, "enable_idempotence": False}
        self._producer = self._make(self._kwargs)
        await self._start()

    async def _fit_batches(self, limit: int | None) -> None:
        """A topic whose ``max.message.bytes`` is below our batch size would refuse whole batches, failing every
        record in them (aiokafka, unlike Kafka's Java producer, does not split a refused batch): send smaller ones,
        so only a record too large on its own fails."""
        self.max_batch_bytes = limit
        kwargs = self._kwargs
        if limit is None or limit >= kwargs["max_batch_size"]:
            return
        await self._producer.stop()
        self._kwargs = {**kwargs, "max_batch_size": limit}
        self._producer = self._make(self._kwargs)
        await self._start()

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._watchdog is not None:
                self._closing = True
                self._watchdog.cancel()
                await asyncio.wait({self._watchdog}, timeout=5.0)  # bounded: aiokafka may swallow the cancellation
            if self._producer in self._retired:  # closed mid-renewal: its batches are failed, its sender is gone
                await self._abandon(self._producer)
            elif self._stop_within is None:
                await self._producer.stop()
            else:
                try:
                    await within(self._producer.stop(), self._stop_within)
                except TimeoutError:
                    await self._abandon(self._producer)
            for old in self._retired:  # renewed producers: a connection their last requests opened late
                with contextlib.suppress(Exception):
                    await within(old.client.close(), 1.0)
        finally:
            self._tap.detach()

    @staticmethod
    async def _abandon(producer: AIOKafkaProducer, drain: float = 1.0) -> None:
        """A stop that timed out (a shutdown, with a broker that does not answer), or a producer being replaced:
        stop its sender and close its connections now, instead of leaving them to the interpreter's exit.

        A cancelled sender still waits for its requests in flight, and those may open a connection again, so
        its end is awaited (at most ``drain`` seconds) before the client is closed."""
        task = getattr(getattr(producer, "_sender", None), "sender_task", None)  # aiokafka has no public way
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=drain)
        with contextlib.suppress(Exception):
            await within(producer.client.close(), 1.0)
        producer._closed = True  # as its stop() would mark it: else its __del__ warns of an unclosed producer

    async def _expire(self) -> None:
        """The delivery timeout of the idempotent producer (see ``expiry``): watch for a batch past it, then retire
        the producer; the next send starts a new one (``_ready``)."""
        seconds = self.cluster.config.delivery.delivery_timeout
        period = min(1.0, seconds / 10)
        while not self._closing:
            await asyncio.sleep(period)
            if not self._closing and self._producer not in self._retired and any_expired(self._producer):
                self._held = True  # sends wait from here until a new producer has started
                self._renewed.clear()
                try:
                    await self._retire(seconds, period)
                finally:
                    self._renewed.set()

    async def _retire(self, seconds: float, period: float) -> None:
        """Stop sending; once every outstanding batch is acknowledged or past its deadline, and the requests in
        flight are answered, fail the late ones (see ``expiry``)."""
        old = self._producer
        while not self._closing and not all(batch.expired() for batch in outstanding(old)):
            await asyncio.sleep(period)
        if self._closing:  # the sink is closing: its close waits for (or abandons) what is outstanding
            return
        self._retired.append(old)  # from here on, closing the sink abandons it rather than waiting on it
        sender = getattr(getattr(old, "_sender", None), "sender_task", None)
        try:
            if sender is not None:  # no request goes out from here on; those in flight still get their answers
                sender.cancel()
                await asyncio.wait({sender}, timeout=seconds)  # a cancelled sender awaits its requests in flight
        finally:  # only then fail the rest: a batch the broker took in a late answer is delivered, not failed
            fail_expired(old, seconds, self._tap.last_errors)  # the run may end now: every record has an outcome
        await self._abandon(old, drain=seconds)

    async def _ready(self) -> None:
        """Wait out a renewal; after one, the first send starts the new producer (a new producer id: sequence
        numbers start afresh). Started here rather than in the renewal: a run whose last records the renewal
        failed ends without one. A new producer that cannot start fails this send and every later one."""
        await self._renewed.wait()
        async with self._starting:
            if self._broken is None and self._producer in self._retired:
                self._producer = self._make(self._kwargs)
                try:
                    await self._start()
                except BaseException as exc:
                    config = self.cluster.config
                    error = connect_error(exc, self._tap.causes, config, self.cluster.bootstrap, self.topic)
                    self._broken = exc if error is None else error
                self._held = self._broken is not None
        if self._broken is not None:
            raise self._broken

    def hurry(self, seconds: float) -> None:
        self._stop_within = seconds

    async def begin(self) -> None:
        assert self._transactional_id is not None
        await transactional.begin(self._producer, self._transactional_id)

    async def commit(self, positions: dict[bytes, bytes | None]) -> None:
        assert self._transactional_id is not None
        config = self.cluster.config
        await transactional.commit(self._producer, self._transactional_id, config.transactions.positions_topic, positions,
                                   config.delivery.delivery_timeout)  # fmt: skip

    async def abort(self) -> None:
        assert self._transactional_id is not None
        await transactional.abort(self._producer, self._transactional_id, self.cluster.config.delivery.delivery_timeout)

    async def beside(self, topic: str) -> Beside:
        """``topic`` through this sink's producer: its records go in the same transactions (``--exactly-once``'s dead
        letters to a topic). Made, like the sink's own topic, where the settings allow it."""
        config = self.cluster.config
        try:
            partitions = await ensure_topic(self._producer, config, self.cluster.bootstrap, topic, 1)
        except KafkaError as exc:
            raise connect_error(exc, [], config, self.cluster.bootstrap, topic) or exc from None
        return Beside(self, topic, partitions)

    def batch(self, framed: Framed | None = None) -> KafkaBatch:
        if framed is not None:  # made by ``framer``: built and closed, numbered as it is sent
            return KafkaBatch(FramedBatch(framed[1], framed[2]))
        return KafkaBatch(self._producer.create_batch(), self._headers)

    def framer(self, partitioner: Partitioner, max_value: int, cap: int) -> ArrowFramer | None:
        """Batches made whole on the decode thread, where they are what aiokafka would send: no compression, no
        headers; and pyarrow installed. A transactional producer's are marked as its batches are."""
        kwargs = self._kwargs
        if kwargs["compression_type"] is not None or self._headers or not framing_available():
            return None
        limit = min(kwargs["max_batch_size"], self.max_batch_bytes or kwargs["max_batch_size"])
        return ArrowFramer(partitioner, limit, max_value, cap, transactional=self._transactional_id is not None)

    async def send_batch(self, batch: KafkaBatch, partition: int, on_done: OnDone) -> None:  # type: ignore[override]
        if self._held:
            await self._ready()
        try:
            fut = await self._producer.send_batch(batch.builder, self.topic, partition=partition)
        except DELIVERY_ERRORS as exc:
            raise self._failure(exc) from None
        fut.add_done_callback(on_done)

    async def send(
        self,
        key: bytes | None,
        value: bytes,
        partition: int,
        on_done: OnDone,
        extra: Headers | None = None,
        timestamp: int | None = None,
    ) -> None:
        if self._held:
            await self._ready()
        headers = [*self._headers, *extra] if extra else self._headers or None
        try:
            fut = await self._producer.send(
                self.topic, value, key=key, partition=partition, headers=headers, timestamp_ms=timestamp
            )
        except DELIVERY_ERRORS as exc:
            raise self._failure(exc) from None
        fut.add_done_callback(on_done)

    def fits(self, key: bytes | None, value: bytes, extra_bytes: int = 0) -> bool:
        limit = self.max_batch_bytes
        return limit is None or DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, self._headers) + extra_bytes <= limit

    def outcome(self, delivery: asyncio.Future[Any]) -> DeliveryError | None:
        """aiokafka's delivery future -> None, or the failure in pump's terms."""
        if delivery.cancelled():
            return DeliveryError("other", "send cancelled")
        exc = delivery.exception()
        return None if exc is None else self._failure(exc)

    def _failure(self, exc: BaseException) -> DeliveryError:
        error = failure_of(exc)
        if error.reason == "not_authorized":  # the run stops on it: say who may not write where
            return DeliveryError("not_authorized", not_authorized(self.topic, self.cluster.config, error.message))
        return error


class Beside:
    """Records to another topic through a sink's producer (``KafkaSink.beside``): what ``TopicDeadLetters`` writes to."""

    def __init__(self, sink: KafkaSink, topic: str, partitions: int) -> None:
        self.sink = sink
        self.topic = topic
        self.partitions = partitions

    async def send(self, key: bytes | None, value: bytes, partition: int, on_done: OnDone) -> None:
        try:
            fut = await self.sink._producer.send(self.topic, value, key=key, partition=partition)
        except DELIVERY_ERRORS as exc:
            raise failure_of(exc) from None
        fut.add_done_callback(on_done)

    def outcome(self, delivery: asyncio.Future[Any]) -> DeliveryError | None:
        return self.sink.outcome(delivery)
