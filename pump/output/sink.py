"""Where records go: the ``Sink`` protocol the send modes write to, and the ``Cluster`` that opens sinks.

A sink is one topic, open for the duration of an ``async with``. Its sends report each
outcome through ``on_done``, called later from the event loop (never from inside the
send), with ``None`` or a ``DeliveryError``: the sink translates its client's errors at
its own boundary, so nothing past it knows which client it uses. pump ships two:
``pump.output.kafka.KafkaCluster`` (aiokafka) and ``pump.output.memory.MemoryCluster``
(in memory, for tests and for library users' tests, as ``pump.testing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self

from pump.records import DeliveryError

OnDone = Callable[[DeliveryError | None], None]


class BatchBuilder(Protocol):
    """A batch being filled for one partition; ``append`` returns None when it is full."""

    def append(self, *, key: bytes | None, value: bytes, timestamp: int | None) -> object | None: ...


class Sink(Protocol):
    topic: str
    partitions: int  # known once the sink is open

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def create_batch(self) -> BatchBuilder: ...

    async def send_batch(self, batch: BatchBuilder, partition: int, on_done: OnDone) -> None:
        """Hand a batch over (may wait for room); raises ``DeliveryError`` if it cannot even be sent."""

    async def send(self, key: bytes | None, value: bytes, partition: int, on_done: OnDone) -> None:
        """Hand one record over (may wait for room); raises ``DeliveryError`` if it cannot even be sent."""

    def hurry(self, seconds: float) -> None:
        """From now on, closing waits at most ``seconds`` for what is in flight (a shutdown is under way)."""


class Cluster(Protocol):
    """Opens sinks. ``on_retry`` is told of every produce retry a sink's client makes."""

    def sink(self, topic: str, partitions: int, on_retry: Callable[[], None] | None = None) -> Sink:
        """A sink for ``topic`` (``partitions``: for the topic's creation, when the settings allow it)."""
        ...
