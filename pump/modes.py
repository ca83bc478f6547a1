"""The send modes: one small class each behind the ``SendMode`` protocol.

- ``SyncMode``: await the broker's acknowledgement of each record before the next.
- ``CallbackMode``: ``send()`` per record; a done-callback settles it; in flight is bounded.
- ``BatchMode``: records grouped per partition into explicit batches
  (``create_batch``/``send_batch``), shipped when full or after the linger time.

All three take records already assigned to partitions, in input order per
partition, together with the chunk they came from, and report every outcome to
``Outcomes`` as segments ``(chunk, records)``. None of them decides partitions,
so all three put the same records on the same partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from typing import Any, Protocol

from pump.decode import Record
from pump.flow import InFlight
from pump.kafka import DELIVERY_ERRORS, Cluster, failure_reason
from pump.outcomes import Outcomes, Segment
from pump.source import Chunk

ByPartition = dict[int, list[Record]]


class SendMode(Protocol):
    name: str
    inflight: InFlight

    async def send(self, records: ByPartition, chunk: Chunk) -> None:
        """Hand records on; returns once they are accepted (may wait on backpressure)."""

    async def close(self) -> None:
        """Ship anything buffered and wait until every record is settled."""


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _outcome(outcomes: Outcomes, segments: list[Segment], nbytes: int, started: float, fut: Any) -> None:
    if fut.cancelled():
        outcomes.failed(segments, "other", "send cancelled")
        return
    exc = fut.exception()
    if exc is None:
        outcomes.acked(segments, nbytes, time.perf_counter() - started)
    else:
        outcomes.failed(segments, failure_reason(exc), _describe(exc))


def _settle(
    outcomes: Outcomes, inflight: InFlight, segments: list[Segment], n: int, nbytes: int, started: float, fut: Any
) -> None:
    """Done-callback of a batch."""
    inflight.release(n)
    _outcome(outcomes, segments, nbytes, started, fut)


def _settle_one(outcomes: Outcomes, inflight: InFlight, chunk: Chunk, rec: Record, started: float, fut: Any) -> None:
    """Done-callback of one record (callback mode's hot path: no segment lists on success)."""
    inflight.release(1)
    if not fut.cancelled() and fut.exception() is None:
        outcomes.acked_one(chunk, len(rec[1]), time.perf_counter() - started)
    else:
        _outcome(outcomes, [(chunk, [rec])], len(rec[1]), started, fut)


class SyncMode:
    name = "sync"

    def __init__(self, cluster: Cluster, outcomes: Outcomes) -> None:
        self.cluster = cluster
        self.outcomes = outcomes
        self.inflight = InFlight(1, partial(outcomes.blocked, "in_flight"))

    async def send(self, records: ByPartition, chunk: Chunk) -> None:
        outcomes = self.outcomes
        for partition, recs in records.items():
            for rec in recs:
                started = time.perf_counter()
                outcomes.sent(1)
                try:
                    fut = await self.cluster.send(rec[0], rec[1], partition)
                    await fut
                except DELIVERY_ERRORS as exc:
                    outcomes.failed([(chunk, [rec])], failure_reason(exc), _describe(exc))
                else:
                    outcomes.acked_one(chunk, len(rec[1]), time.perf_counter() - started)

    async def close(self) -> None:
        return None


class CallbackMode:
    name = "callback"

    def __init__(self, cluster: Cluster, outcomes: Outcomes, max_in_flight: int) -> None:
        self.cluster = cluster
        self.outcomes = outcomes
        self.inflight = InFlight(max_in_flight, partial(outcomes.blocked, "in_flight"))

    async def send(self, records: ByPartition, chunk: Chunk) -> None:
        outcomes, inflight, send = self.outcomes, self.inflight, self.cluster.send
        for partition, recs in records.items():
            for rec in recs:
                await inflight.acquire(1)
                started = time.perf_counter()
                outcomes.sent(1)
                try:
                    fut = await send(rec[0], rec[1], partition)
                except DELIVERY_ERRORS as exc:  # e.g. over max_request_size: fails this record only
                    inflight.release(1)
                    outcomes.failed([(chunk, [rec])], failure_reason(exc), _describe(exc))
                    continue
                except BaseException:
                    inflight.release(1)
                    raise
                fut.add_done_callback(partial(_settle_one, outcomes, inflight, chunk, rec, started))

    async def close(self) -> None:
        await self.inflight.wait_idle()


class _OpenBatch:
    __slots__ = ("builder", "count", "nbytes", "segments", "shipped", "started")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.count = 0
        self.nbytes = 0
        self.segments: list[Segment] = []
        self.started = time.perf_counter()
        self.shipped = False


class BatchMode:
    name = "batch"

    def __init__(
        self, cluster: Cluster, outcomes: Outcomes, max_in_flight: int, linger: float, max_message: int = 1 << 20
    ) -> None:
        self.cluster = cluster
        self.outcomes = outcomes
        self.max_message = max_message  # aiokafka's builder takes any size into an empty batch: check here
        self.inflight = InFlight(max_in_flight, partial(outcomes.blocked, "in_flight"))
        self.linger = linger
        self._open: dict[int, _OpenBatch] = {}
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def send(self, records: ByPartition, chunk: Chunk) -> None:
        self._check()
        async with self._lock:
            for partition, recs in records.items():
                await self._append(partition, recs, chunk)
            await self._ship_aged()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_idle(), name="pump-batch-flusher")
            self._flusher.add_done_callback(self._flusher_done)

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()

    def _new(self) -> _OpenBatch:
        return _OpenBatch(self.cluster.create_batch())

    async def _append(self, partition: int, recs: list[Record], chunk: Chunk) -> None:
        batch = self._open.get(partition) or self._new()
        start = 0  # recs[start:i] are in ``batch`` from this call
        limit = self.max_message
        for i, (key, value, _line) in enumerate(recs):
            if len(value) > limit:
                if i > start:
                    batch.segments.append((chunk, recs[start:i]))
                start = i + 1
                self.outcomes.sent(1)
                message = f"a record of {len(value):,} bytes is over --max-message-bytes {limit:,}"
                self.outcomes.failed([(chunk, [recs[i]])], "too_large", message)
                continue
            if batch.builder.append(key=key, value=value, timestamp=None) is None:
                if i > start:
                    batch.segments.append((chunk, recs[start:i]))
                if batch.count:
                    await self._ship(partition, batch)
                batch, start = self._new(), i
                if batch.builder.append(key=key, value=value, timestamp=None) is None:
                    self.outcomes.sent(1)
                    message = f"a record of {len(value):,} bytes does not fit in a batch (--batch-bytes)"
                    self.outcomes.failed([(chunk, [recs[i]])], "too_large", message)
                    start = i + 1
                    continue
            batch.count += 1
            batch.nbytes += len(value)
        if len(recs) > start:
            batch.segments.append((chunk, recs[start:]))
        self._open[partition] = batch

    async def _ship(self, partition: int, batch: _OpenBatch) -> None:
        """Hand a batch to the producer. Cancelled before that, the batch stays unshipped (``shipped`` False)."""
        await self.inflight.acquire(batch.count)
        try:
            fut = await self.cluster.send_batch(batch.builder, partition)
        except DELIVERY_ERRORS as exc:
            self.inflight.release(batch.count)
            batch.shipped = True
            self.outcomes.sent(batch.count)
            self.outcomes.failed(batch.segments, failure_reason(exc), _describe(exc))
            return
        except BaseException:
            self.inflight.release(batch.count)
            raise
        batch.shipped = True
        self.outcomes.sent(batch.count)
        fut.add_done_callback(
            partial(_settle, self.outcomes, self.inflight, batch.segments, batch.count, batch.nbytes, batch.started)
        )

    async def _ship_aged(self, everything: bool = False) -> None:
        now = time.perf_counter()
        for partition, batch in list(self._open.items()):
            if batch.count and (everything or now - batch.started >= self.linger):
                del self._open[partition]
                try:
                    await self._ship(partition, batch)
                except asyncio.CancelledError:
                    if not batch.shipped:  # cancelled while waiting for room: the batch is still ours
                        self._open[partition] = batch
                    raise

    async def _flush_idle(self) -> None:
        """Ships batches that linger while input is slow (a pipe, stdin)."""
        period = max(self.linger, 0.001)
        while True:
            await asyncio.sleep(period)
            async with self._lock:
                await self._ship_aged()

    async def close(self) -> None:
        if self._flusher is not None:
            async with self._lock:  # so the flusher is cancelled only while idle, never mid-ship
                self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self._check()
        async with self._lock:
            await self._ship_aged(everything=True)
        await self.inflight.wait_idle()


def make_mode(
    name: str, cluster: Cluster, outcomes: Outcomes, max_in_flight: int, linger: float, max_message: int = 1 << 20
) -> SendMode:
    if name == "sync":
        return SyncMode(cluster, outcomes)
    if name == "callback":
        return CallbackMode(cluster, outcomes, max_in_flight)
    return BatchMode(cluster, outcomes, max_in_flight, linger, max_message)
