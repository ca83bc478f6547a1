"""Reading topics back and making topics, through librdkafka (confluent-kafka): a client independent of
the one pump uses, so a replay is checked by a second implementation of the protocol."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = 0  # epoch ms, as the broker keeps it (CreateTime: as the producer set it)


def admin(bootstrap: str, **conf: Any) -> AdminClient:
    """An admin client; keep it referenced until its futures resolve (librdkafka destroys a dropped handle first)."""
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **conf})


def create_topic(
    bootstrap: str, name: str, partitions: int, replicas: int = 1, config: dict[str, str] | None = None, **conf: Any
) -> AdminClient:
    """Creates the topic and returns the admin client that did, for further use."""
    client = admin(bootstrap, **conf)
    client.create_topics([NewTopic(name, partitions, replicas, config=config or {})])[name].result(30)
    return client


def consume(bootstrap: str, topic: str, expected: int, within: float = 30.0, settle: float = 1.0, **conf: Any) -> list[Message]:
    """Read the topic from the beginning until ``expected`` messages arrived and nothing more came for ``settle`` s."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "pump-tests", "enable.auto.commit": False,
                         "log_level": 0, **conf})  # fmt: skip
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        out: list[Message] = []
        deadline = time.monotonic() + within
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            got = [m for m in consumer.consume(100_000, 0.2) if m.error() is None]
            if got:
                out.extend(
                    Message(m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ()), m.timestamp()[1])
                    for m in got
                )
                quiet_since = time.monotonic()
            elif len(out) >= expected and time.monotonic() - quiet_since >= settle:
                break
        return out
    finally:
        consumer.close()


async def consumed(bootstrap: str, topic: str, expected: int, within: float = 30.0, **conf: Any) -> list[Message]:
    """``consume`` from async code (on a thread, so the test's event loop keeps running)."""
    import asyncio

    return await asyncio.to_thread(consume, bootstrap, topic, expected, within, **conf)


async def created(bootstrap: str, name: str, partitions: int) -> None:
    import asyncio

    await asyncio.to_thread(create_topic, bootstrap, name, partitions)


def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes]]) -> None:
    """Writes ``(partition, key, value)`` records as they are, past pump (a topic damaged on purpose)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0, "enable.idempotence": False})
    for partition, key, value in records:
        producer.produce(topic, value, key, partition=partition)
    assert producer.flush(30) == 0, "records not delivered"


def end_offsets(bootstrap: str, topic: str, **conf: Any) -> dict[int, int]:
    """Each partition's end offset (``isolation.level``: librdkafka's default, read_committed, gives the stable ends).
    A topic made a moment ago may not have its leaders yet (NOT_LEADER_FOR_PARTITION): asked again, for up to 10 s."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "pump-tests", "log_level": 0, **conf})
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        consumer.close()


def ends(bootstrap: str, topic: str, **conf: Any) -> int:
    """The sum of the topic's partitions' end offsets."""
    return sum(end_offsets(bootstrap, topic, **conf).values())
