"""The send modes: one small class each behind the ``SendMode`` protocol.

- ``SyncMode``: await the broker's acknowledgement of each record before the next.
- ``CallbackMode``: ``send()`` per record; its outcome callback settles it; in flight is bounded.
- ``BatchMode``: records grouped per partition into explicit batches
  (``Sink.batch``/``send_batch``), shipped when full or after the linger time.

All three take records already assigned to partitions, in input order per partition,
with the chunk they came from, write them to a ``Sink``, and report every outcome to
the ``Accounts`` as segments ``(chunk, records)``. None of them decides partitions, so
all three put the same records on the same partitions. They see only ``DeliveryError``,
never a client's own errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from typing import Protocol

from pump.account import Accounts, Segment
from pump.config import DeliverySettings
from pump.decode.parsed import Framed, Lines
from pump.output.inflight import InFlight
from pump.output.sink import BatchBuilder, Delivery, Headers, Origin, Sink, Stamps, origin_bytes, origin_headers
from pump.records import ByPartition, DeliveryError, Record


def _over_max_message(size: int, limit: int) -> str:
    return f"a record of {size:,} bytes is over --max-message-bytes {limit:,}"


def _over_topic_limit(size: int, limit: int | None) -> str:
    return f"a record of {size:,} bytes does not fit in a batch the topic accepts (max.message.bytes {limit:,})"


class _SizeGuard:
    """For the per-record modes: a record whose one-record batch the topic would refuse fails here, before it is
    sent (with the idempotent producer, a refused batch would also fail every later one of its partition)."""

    __slots__ = ("extra", "fast", "sink")

    def __init__(self, sink: Sink, extra: int = 0) -> None:
        self.sink = sink
        self.extra = extra  # bytes of the record's own headers (--source-headers), at most
        limit = sink.max_batch_bytes  # key + value under this always fit, whatever the framing: no need to ask
        self.fast = None if limit is None else limit - 128 - sink.header_bytes - extra

    def refuses(self, key: bytes | None, value: bytes) -> bool:
        fast = self.fast
        if fast is None or (len(value) if key is None else len(value) + len(key)) <= fast:
            return False
        return not self.sink.fits(key, value, self.extra)


def _stamp(stamps: Stamps | None, line: int) -> int | None:
    """A record's ``--record-timestamp`` (epoch ms), or None for the producer's clock."""
    return stamps[line] if stamps is not None else None


def _lines(recs: list[Record], start: int, stop: int) -> list[int]:
    """The lines of ``recs[start:stop]``: all a batch keeps of its records once they are in its builder, so that
    their values (a copy each) are freed while it is in flight, not when it is acknowledged."""
    return [line for _, _, line in recs[start:stop]]


def _origin(chunk: Lines, wanted: bool) -> Origin | None:
    """The chunk's ``--source-headers`` origin, if they are wanted."""
    return (chunk.path.encode(), "pump.row" if chunk.rows else "pump.line") if wanted else None


class SendMode(Protocol):
    name: str

    async def send(self, records: ByPartition, chunk: Lines, stamps: Stamps | None = None) -> None:
        """Hand records on; returns once they are accepted (may wait on backpressure). ``stamps``: each record's
        timestamp by its line (``--record-timestamp``), else the producer's clock."""

    async def send_framed(self, framed: list[Framed], chunk: Lines) -> None:
        """Hand on a chunk's records as record batches made by the sink's framer (the batch mode only)."""

    async def flush(self) -> None:
        """Ship anything buffered and wait until every record sent so far is settled; sending may go on after."""

    async def close(self) -> None:
        """Ship anything buffered and wait until every record is settled."""

    async def abandon(self) -> None:
        """The run ended on an error (an aborted transaction): ship nothing more, buffered records are dropped."""


def in_flight_limit(settings: DeliverySettings) -> int:
    return 1 if settings.mode == "sync" else settings.max_in_flight


def make_mode(
    settings: DeliverySettings, sink: Sink, accounts: Accounts, inflight: InFlight, linger: float, max_message: int
) -> SendMode:
    origin = settings.source_headers
    if settings.mode == "sync":
        return SyncMode(sink, accounts, origin)
    if settings.mode == "callback":
        return CallbackMode(sink, accounts, inflight, origin)
    return BatchMode(sink, accounts, inflight, linger, max_message, origin)


class SyncMode:
    name = "sync"

    def __init__(self, sink: Sink, accounts: Accounts, source_headers: bool = False) -> None:
        self.sink = sink
        self.accounts = accounts
        self.source_headers = source_headers

    async def send(self, records: ByPartition, chunk: Lines, stamps: Stamps | None = None) -> None:
        origin = _origin(chunk, self.source_headers)
        accounts, guard = self.accounts, _SizeGuard(self.sink, origin_bytes(origin))
        for partition, recs in records.items():
            for key, value, line in recs:
                started = time.perf_counter()
                accounts.sent(1)
                if guard.refuses(key, value):
                    accounts.failed([(chunk, [line])], "too_large", _over_topic_limit(len(value), self.sink.max_batch_bytes))
                    continue
                extra = origin_headers(origin, line) if origin else None
                error = await self._sent(key, value, partition, extra, _stamp(stamps, line))
                if error is None:
                    accounts.acked_one(chunk, len(value), time.perf_counter() - started)
                else:
                    accounts.failed([(chunk, [line])], error.reason, error.message)

    async def _sent(
        self, key: bytes | None, value: bytes, partition: int, extra: Headers | None, timestamp: int | None
    ) -> DeliveryError | None:
        """Send one record and wait for its outcome: one round trip per record."""
        done: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        try:
            await self.sink.send(key, value, partition, done.set_result, extra, timestamp)
        except DeliveryError as exc:
            return exc
        return self.sink.outcome(await done)

    async def send_framed(self, framed: list[Framed], chunk: Lines) -> None:
        raise TypeError(f"{self.name} mode sends records one by one: framed batches are for the batch mode")

    async def flush(self) -> None:
        return None  # every record is settled before the next is sent

    async def close(self) -> None:
        return None

    async def abandon(self) -> None:
        return None


class CallbackMode:
    name = "callback"

    def __init__(self, sink: Sink, accounts: Accounts, inflight: InFlight, source_headers: bool = False) -> None:
        self.sink = sink
        self.accounts = accounts
        self.inflight = inflight
        self.source_headers = source_headers

    async def send(self, records: ByPartition, chunk: Lines, stamps: Stamps | None = None) -> None:
        accounts, inflight, send, settle = self.accounts, self.inflight, self.sink.send, self._settle
        origin = _origin(chunk, self.source_headers)
        guard = _SizeGuard(self.sink, origin_bytes(origin))
        for partition, recs in records.items():
            for key, value, line in recs:
                if guard.refuses(key, value):
                    accounts.sent(1)
                    accounts.failed([(chunk, [line])], "too_large", _over_topic_limit(len(value), self.sink.max_batch_bytes))
                    continue
                await inflight.acquire(1)
                accounts.sent(1)
                try:
                    extra = origin_headers(origin, line) if origin else None
                    done = partial(settle, chunk, line, len(value), time.perf_counter())  # not the record: its value is freed
                    await send(key, value, partition, done, extra, _stamp(stamps, line))
                except DeliveryError as exc:  # e.g. over max_request_size: fails this record only
                    inflight.release(1)
                    accounts.failed([(chunk, [line])], exc.reason, exc.message)
                except BaseException:
                    inflight.release(1)
                    raise

    def _settle(self, chunk: Lines, line: int, nbytes: int, started: float, delivery: Delivery) -> None:
        self.inflight.release(1)
        error = self.sink.outcome(delivery)
        if error is None:
            self.accounts.acked_one(chunk, nbytes, time.perf_counter() - started)
        else:
            self.accounts.failed([(chunk, [line])], error.reason, error.message)

    async def send_framed(self, framed: list[Framed], chunk: Lines) -> None:
        raise TypeError(f"{self.name} mode sends records one by one: framed batches are for the batch mode")

    async def flush(self) -> None:
        await self.inflight.wait_idle()

    async def close(self) -> None:
        await self.inflight.wait_idle()

    async def abandon(self) -> None:
        return None  # nothing is buffered


class _OpenBatch:
    __slots__ = ("builder", "count", "nbytes", "segments", "shipped", "started")

    def __init__(self, builder: BatchBuilder) -> None:
        self.builder = builder
        self.count = 0
        self.nbytes = 0
        self.segments: list[Segment] = []
        self.started = time.perf_counter()
        self.shipped = False


class BatchMode:
    name = "batch"

    def __init__(
        self,
        sink: Sink,
        accounts: Accounts,
        inflight: InFlight,
        linger: float,
        max_message: int = 1 << 20,
        source_headers: bool = False,
    ) -> None:
        self.sink = sink
        self.source_headers = source_headers
        self.accounts = accounts
        self.max_message = max_message  # aiokafka's builder takes any size into an empty batch: check here
        self.inflight = inflight
        self.linger = linger
        self._open: dict[int, _OpenBatch] = {}
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def send(self, records: ByPartition, chunk: Lines, stamps: Stamps | None = None) -> None:
        self._check()
        async with self._lock:
            for partition, recs in records.items():
                await self._append(partition, recs, chunk, stamps)
            await self._ship_aged()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_idle(), name="pump-batch-flusher")
            self._flusher.add_done_callback(self._flusher_done)

    async def send_framed(self, framed: list[Framed], chunk: Lines) -> None:
        """Batches already made ship as they are, each after what is open for its partition (input order)."""
        self._check()
        async with self._lock:
            for made in framed:
                partition, _, count, nbytes, lines = made
                opened = self._open.get(partition)
                if opened is not None and opened.count:
                    await self._ship_open(partition)
                batch = _OpenBatch(self.sink.batch(made))
                batch.count, batch.nbytes = count, nbytes
                batch.segments.append((chunk, lines))
                await self._ship(partition, batch)
            await self._ship_aged()

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()  # raised by the next send() or close(): never silent

    def _new(self) -> _OpenBatch:
        return _OpenBatch(self.sink.batch())

    def _too_large(self, chunk: Lines, rec: Record, message: str) -> None:
        self.accounts.sent(1)
        self.accounts.failed([(chunk, [rec[2]])], "too_large", message)

    async def _append(self, partition: int, recs: list[Record], chunk: Lines, stamps: Stamps | None) -> None:
        """The hot loop, a run of records at a time: ``extend`` fills the batch until it is full, at the in-flight
        bound (a batch never holds more records than may be in flight), or before a record over the limit.

        The first record of a batch is the one that can exceed the batch limit the topic accepts (a non-empty
        batch refuses what does not fit), so it alone is put in with ``_first`` and checked against it.
        """
        batch = self._open.get(partition) or self._new()
        limit, cap = self.max_message, self.inflight.limit
        origin = _origin(chunk, self.source_headers)
        n = len(recs)
        start = i = 0  # recs[start:i] are in ``batch`` from this call
        while i < n:
            if batch.count == 0:
                key, value, line = recs[i]
                size = len(value)
                if size > limit:
                    self._too_large(chunk, recs[i], _over_max_message(size, limit))
                elif not self._first(batch, key, value, origin_headers(origin, line) if origin else None, _stamp(stamps, line)):
                    # no batch can hold it: start afresh
                    self._too_large(chunk, recs[i], _over_topic_limit(size, self.sink.max_batch_bytes))
                    batch = self._new()
                else:
                    batch.count, batch.nbytes = 1, size
                    i += 1
                    continue
                i += 1
                start = i
                continue
            reached, nbytes = batch.builder.extend(recs, i, min(n, i + cap - batch.count), limit, origin, stamps)
            batch.count += reached - i
            batch.nbytes += nbytes
            i = reached
            if i == n:
                break
            size = len(recs[i][1])
            if size > limit and batch.count < cap:
                # stopped before a record over --max-message-bytes: it fails, the batch goes on without it
                if i > start:
                    batch.segments.append((chunk, _lines(recs, start, i)))
                self._too_large(chunk, recs[i], _over_max_message(size, limit))
                i += 1
                start = i
                continue
            if i > start:  # full, or at the in-flight bound: ship it and start another
                batch.segments.append((chunk, _lines(recs, start, i)))
            await self._ship(partition, batch)
            batch, start = self._new(), i
        if n > start:
            batch.segments.append((chunk, _lines(recs, start, n)))
        self._open[partition] = batch

    def _first(self, batch: _OpenBatch, key: bytes | None, value: bytes, extra: Headers | None, timestamp: int | None) -> bool:
        """Put a record into an empty batch; False if no batch can hold it (--batch-bytes, or the topic's limit)."""
        limit = self.sink.max_batch_bytes
        return batch.builder.append(key=key, value=value, timestamp=timestamp, extra=extra) is not None and (
            limit is None or batch.builder.size() <= limit
        )

    async def _ship(self, partition: int, batch: _OpenBatch) -> None:
        """Hand a batch to the sink. Cancelled before that, the batch stays unshipped (``shipped`` False)."""
        await self.inflight.acquire(batch.count)
        try:
            await self.sink.send_batch(batch.builder, partition, partial(self._settle, batch))
        except DeliveryError as exc:
            self.inflight.release(batch.count)
            batch.shipped = True
            self.accounts.sent(batch.count)
            self.accounts.failed(batch.segments, exc.reason, exc.message)
            return
        except BaseException:
            self.inflight.release(batch.count)
            raise
        batch.shipped = True
        self.accounts.sent(batch.count)

    def _settle(self, batch: _OpenBatch, delivery: Delivery) -> None:
        self.inflight.release(batch.count)
        error = self.sink.outcome(delivery)
        if error is None:
            self.accounts.acked(batch.segments, batch.nbytes, time.perf_counter() - batch.started)
        else:
            self.accounts.failed(batch.segments, error.reason, error.message)

    async def _ship_aged(self, everything: bool = False) -> None:
        now = time.perf_counter()
        for partition, batch in list(self._open.items()):
            if batch.count and (everything or now - batch.started >= self.linger):
                await self._ship_open(partition)

    async def _ship_open(self, partition: int) -> None:
        """Ships the partition's open batch; cancelled before it is shipped, it stays open."""
        batch = self._open.pop(partition)
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

    async def flush(self) -> None:
        self._check()
        async with self._lock:
            await self._ship_aged(everything=True)
        await self.inflight.wait_idle()
        self._check()

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

    async def abandon(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self._open.clear()
