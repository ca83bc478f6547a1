"""In-memory fakes of pump's boundaries, for unit tests that need no broker (as httpcore ships for its network)."""

from __future__ import annotations

import asyncio
from typing import Any


class FakeBatch:
    """Stands in for aiokafka's BatchBuilder: holds up to ``capacity`` records."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, key: bytes | None, value: bytes, timestamp: int | None) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return object()


class FakeCluster:
    """Stands in for ``kafka.Cluster``: every send returns a future the test resolves with ``ack_all()``."""

    def __init__(self, partitions: int = 1, batch_capacity: int = 100) -> None:
        self.partitions = partitions
        self.batch_capacity = batch_capacity
        self.sent: list[tuple[int, list[tuple[bytes | None, bytes]], asyncio.Future[Any]]] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_capacity)

    async def send_batch(self, batch: FakeBatch, partition: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch.records, fut))
        return fut

    async def send(self, key: bytes | None, value: bytes, partition: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, [(key, value)], fut))
        return fut

    def ack_all(self) -> None:
        for _, _, fut in self.sent:
            if not fut.done():
                fut.set_result(None)
