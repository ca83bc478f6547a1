"""The expected side of ``pump verify``: the inputs replayed, as ``pump replay`` would, into a sink that sends nothing.

The replay is pump's own (``pump.runner.replay``): the same reading, decoding, schema, ``--key-field``, shaping and
partitioning, the same records failing for being too large, so what is expected is what the replay sends; the sink
here folds each batch into a ``Digests`` or a ``Detail`` and acknowledges it. Records carry where they came from
(``--source-headers``' origin: each input's name and line), for the examples a mismatch names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import msgspec

from pump.config import ReplayConfig
from pump.decode.parsed import Framed, Framer
from pump.decode.partition import Partitioner
from pump.observe import Report
from pump.output.memory import BATCH_HEADER, record_size
from pump.output.sink import Headers, OnDone, Origin, Stamps
from pump.records import DeliveryError, Record
from pump.runner import replay

#: Records a batch holds at most (the batches only group records for folding).
BATCH_RECORDS = 10_000


class Fold(Protocol):
    def expected(self, records: list[Record], partition: int, name: str) -> None: ...


class _Batch:
    """Records for one partition, in segments by input."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.segments: list[tuple[str, list[Record]]] = []
        self.count = 0
        self._size = BATCH_HEADER

    def _take(self, name: str, records: list[Record]) -> None:
        if self.segments and self.segments[-1][0] == name:
            self.segments[-1][1].extend(records)
        else:
            self.segments.append((name, records))
        self.count += len(records)

    def append(self, *, key: bytes | None, value: bytes, timestamp: int | None, extra: Headers | None = None) -> object | None:
        grown = self._size + record_size(key, value) + sum(len(k) + len(v) + 4 for k, v in extra or ())
        if self.count and (self.count >= BATCH_RECORDS or grown > self.max_bytes):
            return None
        name, line = (extra[0][1].decode(), int(extra[1][1])) if extra else ("", 0)
        self._take(name, [(key, value, line)])
        self._size = grown
        return True

    def size(self) -> int:
        return self._size

    def extend(
        self, records: list[Record], start: int, stop: int, limit: int, origin: Origin | None = None, stamps: Stamps | None = None
    ) -> tuple[int, int]:
        stop = min(stop, start + BATCH_RECORDS - self.count)
        nbytes = 0
        for i in range(start, stop):
            key, value, _line = records[i]
            grown = self._size + record_size(key, value)
            if len(value) > limit or grown > self.max_bytes:
                stop = i
                break
            self._size = grown
            nbytes += len(value)
        if stop > start:
            self._take(origin[0].decode() if origin else "", records[start:stop])
        return stop, nbytes


class _Sink:
    """One topic's worth of expected records: each batch folded as it is handed over, and acknowledged."""

    idempotent = True
    header_bytes = 0

    def __init__(self, fold: Fold, topic: str, partitions: int, max_batch_bytes: int | None, batch_bytes: int) -> None:
        self.fold, self.topic, self.partitions = fold, topic, partitions
        self.max_batch_bytes, self.batch_bytes = max_batch_bytes, batch_bytes
        self.warnings: list[str] = []

    async def __aenter__(self) -> _Sink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def framer(self, partitioner: Partitioner, max_value: int, cap: int) -> Framer | None:
        return None

    def batch(self, framed: Framed | None = None) -> _Batch:
        return _Batch(min(self.batch_bytes, self.max_batch_bytes or self.batch_bytes))

    def fits(self, key: bytes | None, value: bytes, extra_bytes: int = 0) -> bool:
        return self.max_batch_bytes is None or BATCH_HEADER + record_size(key, value) + extra_bytes <= self.max_batch_bytes

    async def send_batch(self, batch: _Batch, partition: int, on_done: OnDone) -> None:  # type: ignore[override]
        for name, records in batch.segments:
            self.fold.expected(records, partition, name)
        asyncio.get_running_loop().call_soon(on_done, None)

    async def send(
        self,
        key: bytes | None,
        value: bytes,
        partition: int,
        on_done: OnDone,
        extra: Headers | None = None,
        timestamp: int | None = None,
    ) -> None:
        name, line = (extra[0][1].decode(), int(extra[1][1])) if extra else ("", 0)
        self.fold.expected([(key, value, line)], partition, name)
        asyncio.get_running_loop().call_soon(on_done, None)

    def outcome(self, delivery: DeliveryError | None) -> DeliveryError | None:
        return delivery

    def hurry(self, seconds: float) -> None:
        return None


class _Cluster:
    def __init__(self, make: Callable[[str], _Sink]) -> None:
        self._make = make

    def sink(self, topic: str, partitions: int, on_retry: Callable[[], None] | None = None) -> _Sink:
        return self._make(topic)

    async def committed(self, job: str) -> dict[str, bytes]:
        return {}


def as_expected(config: ReplayConfig) -> ReplayConfig:
    """``config`` as verify replays it: every shard and process of the job at once, unpaced, in batches, each record
    with its origin, writing nothing (no dead letters, checkpoint, transactions, metrics or report file)."""
    r = msgspec.structs.replace
    return r(
        config,
        input=r(config.input, shard=None, processes=1),
        delivery=r(config.delivery, mode="batch", rate=None, speed="max", dead_letter=None, source_headers=True),
        checkpoint=r(config.checkpoint, path=None),
        transactions=r(config.transactions, exactly_once=False),
        observe=r(config.observe, metrics_addr=None, pushgateway=None, report_json=None, metrics_linger=0.0),
    )


async def expect(config: ReplayConfig, fold: Fold, partitions: int, max_batch_bytes: int | None) -> Report:
    """Replays ``config``'s inputs (``as_expected``) into ``fold``, for a topic of ``partitions``; returns the report."""
    expected = as_expected(config)
    make = lambda topic: _Sink(fold, topic, partitions, max_batch_bytes, expected.producer.batch_bytes)  # noqa: E731
    return await replay(expected, cluster=_Cluster(make))
