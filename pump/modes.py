"""The send modes: one small class each behind the ``SendMode`` protocol.

- ``SyncMode``: await the broker's acknowledgement of each record before the next.
- ``CallbackMode``: ``send()`` per record; a done-callback settles it; in flight is bounded.
- ``BatchMode``: records grouped per partition into explicit batches
  (``create_batch``/``send_batch``), shipped when full or after the linger time.

All three take records already assigned to partitions, in input order per
partition, and report every outcome to the ``Ledger``; none of them decides
partitions, so all three put the same records on the same partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from pump.decode import Record
from pump.flow import InFlight
from pump.kafka import DELIVERY_ERRORS, Cluster, failure_reason
from pump.ledger import Ledger

ByPartition = dict[int, list[Record]]


class SendMode(Protocol):
    name: str
    inflight: InFlight

    async def send(self, records: ByPartition) -> None:
        """Hand records on; returns once they are accepted (may wait on backpressure)."""

    async def close(self) -> None:
        """Ship anything buffered and wait until every record is settled."""


def _settle(ledger: Ledger, inflight: InFlight, n: int, nbytes: int, started: float, fut: asyncio.Future[Any]) -> None:
    inflight.release(n)
    if fut.cancelled():
        ledger.records_failed(n, "other")
        return
    exc = fut.exception()
    if exc is None:
        ledger.records_acked(n, nbytes, time.perf_counter() - started)
    else:
        ledger.records_failed(n, failure_reason(exc))


class SyncMode:
    name = "sync"

    def __init__(self, cluster: Cluster, ledger: Ledger) -> None:
        self.cluster = cluster
        self.ledger = ledger
        self.inflight = InFlight(1, partial(ledger.blocked, "in_flight"))

    async def send(self, records: ByPartition) -> None:
        ledger = self.ledger
        for partition, recs in records.items():
            for key, value, _line in recs:
                started = time.perf_counter()
                ledger.records_sent(1)
                try:
                    fut = await self.cluster.send(key, value, partition)
                    await fut
                except DELIVERY_ERRORS as exc:
                    ledger.records_failed(1, failure_reason(exc))
                else:
                    ledger.records_acked(1, len(value), time.perf_counter() - started)

    async def close(self) -> None:
        return None


class CallbackMode:
    name = "callback"

    def __init__(self, cluster: Cluster, ledger: Ledger, max_in_flight: int) -> None:
        self.cluster = cluster
        self.ledger = ledger
        self.inflight = InFlight(max_in_flight, partial(ledger.blocked, "in_flight"))

    async def send(self, records: ByPartition) -> None:
        ledger, inflight, send = self.ledger, self.inflight, self.cluster.send
        for partition, recs in records.items():
            for key, value, _line in recs:
                await inflight.acquire(1)
                started = time.perf_counter()
                try:
                    fut = await send(key, value, partition)
                except BaseException:
                    inflight.release(1)
                    raise
                ledger.records_sent(1)
                fut.add_done_callback(partial(_settle, ledger, inflight, 1, len(value), started))

    async def close(self) -> None:
        await self.inflight.wait_idle()


class _OpenBatch:
    __slots__ = ("builder", "count", "nbytes", "started")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.count = 0
        self.nbytes = 0
        self.started = time.perf_counter()


class BatchMode:
    name = "batch"

    def __init__(self, cluster: Cluster, ledger: Ledger, max_in_flight: int, linger: float) -> None:
        self.cluster = cluster
        self.ledger = ledger
        self.inflight = InFlight(max_in_flight, partial(ledger.blocked, "in_flight"))
        self.linger = linger
        self._open: dict[int, _OpenBatch] = {}
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def send(self, records: ByPartition) -> None:
        self._check()
        async with self._lock:
            for partition, recs in records.items():
                await self._append(partition, recs)
            await self._ship_aged()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_idle(), name="pump-batch-flusher")
            self._flusher.add_done_callback(self._flusher_done)

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()

    async def _append(self, partition: int, recs: list[Record]) -> None:
        batch = self._open.get(partition)
        new_batch: Callable[[], _OpenBatch] = lambda: _OpenBatch(self.cluster.create_batch())  # noqa: E731
        if batch is None:
            batch = new_batch()
        for key, value, _line in recs:
            if batch.builder.append(key=key, value=value, timestamp=None) is None:
                if batch.count:
                    await self._ship(partition, batch)
                batch = new_batch()
                if batch.builder.append(key=key, value=value, timestamp=None) is None:
                    self.ledger.records_sent(1)
                    self.ledger.records_failed(1, "too_large")
                    continue
            batch.count += 1
            batch.nbytes += len(value)
        self._open[partition] = batch

    async def _ship(self, partition: int, batch: _OpenBatch) -> None:
        await self.inflight.acquire(batch.count)
        try:
            fut = await self.cluster.send_batch(batch.builder, partition)
        except DELIVERY_ERRORS as exc:
            self.inflight.release(batch.count)
            self.ledger.records_sent(batch.count)
            self.ledger.records_failed(batch.count, failure_reason(exc))
            return
        except BaseException:
            self.inflight.release(batch.count)
            raise
        self.ledger.records_sent(batch.count)
        fut.add_done_callback(partial(_settle, self.ledger, self.inflight, batch.count, batch.nbytes, batch.started))

    async def _ship_aged(self, everything: bool = False) -> None:
        now = time.perf_counter()
        for partition, batch in list(self._open.items()):
            if batch.count and (everything or now - batch.started >= self.linger):
                del self._open[partition]
                await self._ship(partition, batch)

    async def _flush_idle(self) -> None:
        """Ships batches that linger while input is slow (a pipe, stdin)."""
        period = max(self.linger, 0.001)
        while True:
            await asyncio.sleep(period)
            async with self._lock:
                await self._ship_aged()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self._check()
        async with self._lock:
            await self._ship_aged(everything=True)
        await self.inflight.wait_idle()


def make_mode(name: str, cluster: Cluster, ledger: Ledger, max_in_flight: int, linger: float) -> SendMode:
    if name == "sync":
        return SyncMode(cluster, ledger)
    if name == "callback":
        return CallbackMode(cluster, ledger, max_in_flight)
    return BatchMode(cluster, ledger, max_in_flight, linger)
