"""Shared fixtures: one real broker process per session, a fresh topic per test, consume-back helpers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from hypothesis import settings

from pump.broker import Broker

# CI runs the same examples every time (no flaky red builds); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with Broker() as b:
        yield b


@pytest.fixture
def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def consume_all(
    bootstrap: str, topic: str, expected: int, within: float = 30.0, settle: float = 1.0, **client: Any
) -> list[Message]:
    """Read the topic from the beginning until ``expected`` messages arrived and nothing more came for ``settle`` s."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, **client
    )
    await consumer.start()
    out: list[Message] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    quiet_since = loop.time()
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=100_000)
            got = [Message(tp.partition, m.offset, m.key, m.value) for tp, msgs in batch.items() for m in msgs]
            if got:
                out.extend(got)
                quiet_since = loop.time()
            elif len(out) >= expected and loop.time() - quiet_since >= settle:
                break
    finally:
        await consumer.stop()
    return out
