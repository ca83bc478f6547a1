"""What pump asks of a topic before sending: that it exists (a full metadata fetch: Tansu auto-creates a
topic on a targeted one), its creation when the settings allow it, and the largest batch it accepts."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidReplicationFactorError, KafkaError, TopicAlreadyExistsError, for_code

from pump.config import ReplayConfig, named, verbatim
from pump.errors import BrokerError, TopicError
from pump.output.kafka.errors import describe
from pump.output.kafka.options import client_kwargs
from pump.output.kafka.waits import within


async def ensure_topic(producer: AIOKafkaProducer, config: ReplayConfig, bootstrap: str, topic: str, partitions: int) -> int:
    """The topic's partition count; creates it first if it is missing and the settings allow it."""
    timeout = config.producer.connect_timeout
    try:
        metadata = await within(producer.client.fetch_all_metadata(), timeout)
        if not metadata.partitions_for_topic(topic):
            if not config.producer.create_topic:
                raise named(
                    TopicError, f"topic {verbatim(repr(topic))} does not exist at {verbatim(bootstrap)} (add {{create_topic}})"
                )
            await _create(config, bootstrap, topic, partitions)
        parts = await within(producer.partitions_for(topic), timeout)
    except (TimeoutError, KafkaError) as exc:
        raise BrokerError(f"cannot use topic {topic!r} at {bootstrap}: {describe(exc)}") from None
    return len(parts)


async def batch_limit(config: ReplayConfig, bootstrap: str, topic: str) -> int | None:
    """The topic's ``max.message.bytes``: the largest record *batch* it accepts. None if the broker does not say
    (Tansu closes the connection on DescribeConfigs); pump then sends as the settings say."""
    admin = admin_client(config, bootstrap)
    try:
        await admin.start()
        [response] = await within(
            admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})]),
            config.producer.connect_timeout,
        )
        for _code, _message, _type, _name, entries in response.resources:
            for name, value, *_ in entries:
                if name == "max.message.bytes" and str(value).isdigit():
                    return int(value)
    except (KafkaError, OSError, TimeoutError):
        return None
    finally:
        await admin.close()
    return None


def admin_client(config: ReplayConfig, bootstrap: str) -> AIOKafkaAdminClient:
    kwargs: dict[str, Any] = client_kwargs(config.security)
    timeout = int(config.delivery.delivery_timeout * 1000)
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=timeout, **kwargs)


async def _create(config: ReplayConfig, bootstrap: str, name: str, partitions: int) -> None:
    admin = admin_client(config, bootstrap)
    await admin.start()
    try:
        replicas = config.producer.replication_factor
        response = await admin.create_topics([NewTopic(name, partitions, replicas)])
        for _name, code, *rest in getattr(response, "topic_errors", []):
            if code and code != TopicAlreadyExistsError.errno:
                said = verbatim(rest[-1] if rest and rest[-1] else for_code(code).description)
                if code == InvalidReplicationFactorError.errno:
                    raise named(
                        TopicError, f"cannot create topic {verbatim(repr(name))} with {{replication_factor}} {replicas}: {said}"
                    )
                raise TopicError(
                    f"cannot create topic {name!r}: {for_code(code).__name__}: {rest[-1] if rest else ''}".rstrip(": ")
                )
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def topic_exists(config: ReplayConfig, bootstrap: str, topic: str) -> bool:
    """Whether ``topic`` exists (``pump bench`` refuses a topic it did not create); a cluster out of reach is one line."""
    admin = admin_client(config, bootstrap)
    try:
        await within(admin.start(), config.producer.connect_timeout)
        return topic in await within(admin.list_topics(), config.producer.connect_timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerError(f"cannot use Kafka at {bootstrap}: {describe(exc)}") from None
    finally:
        await admin.close()


async def delete_topic(config: ReplayConfig, bootstrap: str, topic: str) -> str | None:
    """Deletes ``topic``; returns why not, if it could not (said as a warning: the figures stand)."""
    admin = admin_client(config, bootstrap)
    try:
        await within(admin.start(), config.producer.connect_timeout)
        await within(admin.delete_topics([topic]), config.producer.connect_timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        return describe(exc)
    finally:
        await admin.close()
    return None
