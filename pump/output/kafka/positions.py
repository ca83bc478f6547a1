"""The positions topic of ``--exactly-once``: made when it is missing, and read for a job's last committed positions.

One partition, compacted (each key's last value is what counts), replicated as the data topic is. A job's positions
are read with ``read_committed`` from the topic's start to its end as of the read: a position written in a transaction
that was aborted, or is still open (a pump killed mid-transaction), is never seen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.structs import TopicPartition

from pump.account.positions import of_job
from pump.config import ReplayConfig
from pump.errors import BrokerError, TopicError
from pump.output.kafka.admin import admin_client
from pump.output.kafka.errors import describe
from pump.output.kafka.options import client_kwargs
from pump.output.kafka.waits import within

PARTITION = 0


async def ensure_positions_topic(config: ReplayConfig, bootstrap: str) -> None:
    """Creates the positions topic if it is missing: one partition, compacted, as many replicas as the data topic has
    (or will have: ``--replication-factor``)."""
    name = config.transactions.positions_topic
    admin = admin_client(config, bootstrap)
    try:
        await within(admin.start(), config.producer.connect_timeout)
        topics = {
            t["topic"]: t for t in await within(admin.describe_topics([config.topic, name]), config.producer.connect_timeout)
        }
        if not topics.get(name, {}).get("partitions"):
            data = topics.get(config.topic, {}).get("partitions") or []  # not made yet: it will be, so replicated
            replicas = max((len(p["replicas"]) for p in data), default=config.producer.replication_factor)
            await _create(admin, name, replicas)
    except (TimeoutError, KafkaError, OSError, KeyError) as exc:
        raise BrokerError(f"cannot make the positions topic {name!r} at {bootstrap}: {describe(exc)}") from None
    finally:
        await admin.close()


async def _create(admin: Any, name: str, replicas: int) -> None:
    topic = NewTopic(name, 1, replicas, topic_configs={"cleanup.policy": "compact"})
    try:
        response = await admin.create_topics([topic])
    except TopicAlreadyExistsError:
        return
    for _name, code, *rest in getattr(response, "topic_errors", []):
        if code and code != TopicAlreadyExistsError.errno:
            raise TopicError(f"cannot create the positions topic {name!r}: {for_code(code).__name__} {rest[-1] if rest else ''}")


async def committed_positions(config: ReplayConfig, bootstrap: str, job: str) -> dict[str, bytes]:
    """The last position committed by each member of ``job`` (a key deleted by a tombstone is gone)."""
    name = config.transactions.positions_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        isolation_level="read_committed",
        enable_auto_commit=False,
        request_timeout_ms=int(config.delivery.delivery_timeout * 1000),
        **client_kwargs(config.security),
    )
    tp = TopicPartition(name, PARTITION)
    last: dict[str, bytes | None] = {}
    try:
        await within(consumer.start(), config.producer.connect_timeout)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await within(consumer.end_offsets([tp]), config.producer.connect_timeout))[tp]
        async with asyncio.timeout(config.delivery.delivery_timeout):
            while await consumer.position(tp) < end:
                for messages in (await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)).values():
                    last.update((m.key.decode(), m.value) for m in messages if m.key and m.offset < end)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerError(f"cannot read the positions topic {name!r} at {bootstrap}: {describe(exc)}") from None
    finally:
        await consumer.stop()
    return {key: value for key, value in last.items() if value is not None and of_job(job, key)}
