"""The one module that owns the aiokafka producer.

It starts and stops the producer (nothing else calls ``start()``/``stop()``),
makes sure the topic exists, and translates aiokafka's errors into pump's at
this boundary: connection problems become ``BrokerError``, and a failed
delivery future becomes a reason from a small fixed set (``FAILURE_REASONS``)
that reports and metric labels can use. No ``aiokafka.errors`` type escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)
from aiokafka.producer.message_accumulator import BatchBuilder

from pump.config import ReplayConfig
from pump.errors import BrokerError, TopicError, UsageError

FailureReason = Literal["timeout", "too_large", "connection", "broker", "other"]
FAILURE_REASONS: tuple[FailureReason, ...] = ("timeout", "too_large", "connection", "broker", "other")

log = logging.getLogger(__name__)


def failure_reason(exc: BaseException) -> FailureReason:
    """Classify a delivery failure. A timeout means the outcome is unknown, not that it was lost."""
    if isinstance(exc, KafkaTimeoutError | RequestTimedOutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, MessageSizeTooLargeError):
        return "too_large"
    if isinstance(exc, KafkaConnectionError):
        return "connection"
    if isinstance(exc, KafkaError):
        return "broker"
    return "other"


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(value)
        except ValueError:
            pass
    return value


def producer_kwargs(config: ReplayConfig, bootstrap: str) -> dict[str, Any]:
    """aiokafka's arguments for a config: the only place seconds become ``_ms``."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap.split(","),
        "client_id": "pump",
        "acks": "all" if config.acks == "all" or config.idempotence else int(config.acks),
        # sync waits for each ack before the next send: lingering would only add latency
        "linger_ms": 0 if config.mode == "sync" else int(config.linger * 1000),
        "max_batch_size": config.batch_bytes,
        "max_request_size": max(config.batch_bytes, config.max_message_bytes),
        "compression_type": None if config.compression == "none" else config.compression,
        "request_timeout_ms": int(config.request_timeout * 1000),
        "enable_idempotence": config.idempotence,
    }
    kwargs.update(config.security.client_kwargs())
    kwargs.update({k: _coerce(v) for k, v in config.producer_options.items()})
    return kwargs


class Cluster:
    """An open connection to the cluster for one topic: ``async with Cluster(...) as c``."""

    def __init__(self, config: ReplayConfig, bootstrap: str, on_retry: Callable[[], None] | None = None) -> None:
        self.config = config
        self._retries = _Retries(on_retry) if on_retry is not None else None
        self.bootstrap = bootstrap
        self.topic = config.topic
        self.partitions = 0
        self.stop_timeout: float | None = None  # set on shutdown: do not wait forever on a dead broker
        try:
            self._producer = AIOKafkaProducer(**producer_kwargs(config, bootstrap))
        except TypeError as exc:
            raise UsageError(f"-X: not an aiokafka producer option ({exc})") from None
        except (ValueError, AssertionError, KafkaError) as exc:
            raise UsageError(f"producer settings rejected: {exc}") from None

    async def __aenter__(self) -> Cluster:
        causes: list[str] = []
        try:
            with _aiokafka_errors(causes):
                await asyncio.wait_for(self._producer.start(), self.config.connect_timeout)
            self.partitions = await self._ensure_topic()
        except BaseException as exc:
            await self._producer.stop()
            if isinstance(exc, KafkaConnectionError) and causes:
                raise BrokerError(f"cannot use Kafka at {self.bootstrap}: {_explain(causes[-1], self.config)}") from None
            if self.config.security.protocol.startswith("SASL") and isinstance(exc, KeyError | ValueError):
                # aiokafka's SCRAM client raises KeyError('v') when the server's final message is an error
                raise BrokerError(
                    f"cannot use Kafka at {self.bootstrap}: SASL authentication failed: the broker rejected the login"
                ) from None
            if self.config.idempotence and isinstance(exc, KafkaError) and not isinstance(exc, KafkaConnectionError):
                raise BrokerError(
                    f"the broker at {self.bootstrap} refused the idempotent producer (--idempotence): {_describe(exc)};"
                    " drop --idempotence to run at-least-once"
                ) from None
            if isinstance(exc, KafkaError | OSError | asyncio.TimeoutError):
                raise BrokerError(f"cannot use Kafka at {self.bootstrap}: {_describe(exc)}") from None
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._retries is not None:
            self._retries.detach()
        if self.stop_timeout is None:
            await self._producer.stop()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._producer.stop(), self.stop_timeout)

    async def _ensure_topic(self) -> int:
        return await self.ensure_topic(self.topic, self.config.partitions)

    async def ensure_topic(self, topic: str, partitions: int) -> int:
        """The topic's partition count; creates it first if it is missing and --create-topic was given."""
        try:
            metadata = await self._producer.client.fetch_all_metadata()
            parts = metadata.partitions_for_topic(topic)
            if not parts:
                if not self.config.create_topic:
                    raise TopicError(f"topic {topic!r} does not exist at {self.bootstrap} (add --create-topic)")
                await self._create_topic(topic, partitions)
            parts = await asyncio.wait_for(self._producer.partitions_for(topic), self.config.connect_timeout)
        except (TimeoutError, KafkaError) as exc:
            raise BrokerError(f"cannot use topic {topic!r} at {self.bootstrap}: {_describe(exc)}") from None
        return len(parts)

    async def _create_topic(self, topic_name: str, partitions: int) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap.split(","),
            request_timeout_ms=int(self.config.request_timeout * 1000),
            **self.config.security.client_kwargs(),
            **{k: _coerce(v) for k, v in self.config.producer_options.items() if k.startswith(("security", "ssl", "sasl"))},
        )
        await admin.start()
        try:
            topic = NewTopic(topic_name, partitions, self.config.replication_factor)
            response = await admin.create_topics([topic])
            for _name, code, *rest in getattr(response, "topic_errors", []):
                if code and code != TopicAlreadyExistsError.errno:
                    raise TopicError(f"cannot create topic {topic_name!r}: error {code} {rest[-1] if rest else ''}".strip())
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()

    def create_batch(self) -> BatchBuilder:
        return self._producer.create_batch()

    async def send_batch(self, batch: BatchBuilder, partition: int) -> asyncio.Future[Any]:
        return await self._producer.send_batch(batch, self.topic, partition=partition)

    async def send(self, key: bytes | None, value: bytes, partition: int) -> asyncio.Future[Any]:
        return await self._producer.send(self.topic, value, key=key, partition=partition)

    async def send_to(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        """A send to another topic (dead letters), partitioned by aiokafka."""
        return await self._producer.send(topic, value, key=key)


class _Retries(logging.Handler):
    """Counts the produce retries aiokafka makes: it reports them only in its log ("Got error produce response")."""

    LOGGER = "aiokafka.producer.sender"

    def __init__(self, on_retry: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_retry = on_retry
        logger = logging.getLogger(self.LOGGER)
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("Got error produce response"):
            self.on_retry()

    def detach(self) -> None:
        logging.getLogger(self.LOGGER).removeHandler(self)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextlib.contextmanager
def _aiokafka_errors(into: list[str]) -> Iterator[None]:
    """Collect what aiokafka logs while connecting (the only place it says *why* bootstrap failed)."""
    logger = logging.getLogger("aiokafka")
    handler = _Collect(into)
    level, propagate = logger.level, logger.propagate
    if not logger.isEnabledFor(logging.WARNING):  # quiet run: collect without printing
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _explain(cause: str, config: ReplayConfig) -> str:
    """One line on why the handshake failed, from aiokafka's own words."""
    protocol = config.security.protocol
    cause = cause.split(": ", 1)[-1] if cause.startswith("Unable") else cause
    if "CERTIFICATE_VERIFY_FAILED" in cause:
        return f"TLS certificate not trusted ({cause.split('] ', 1)[-1].split(' (_ssl')[0]}); check --ssl-cafile"
    if "SSL" in cause or "TLS" in cause:
        return f"TLS handshake failed ({cause}); does the listener speak TLS? (--security-protocol {protocol})"
    if "closed" in cause:
        if protocol.startswith("SASL"):
            return "SASL authentication failed: the broker closed the connection (wrong user or password, or a refused mechanism)"
        return (
            f"the broker closed the connection during the handshake ({protocol}): it may require authentication or TLS"
            " (--security-protocol SASL_PLAINTEXT, SSL or SASL_SSL)"
        )
    if "refused" in cause.lower():
        return "connection refused: is a broker listening there?"
    return cause


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer (timed out)"
    text = str(exc) or type(exc).__name__
    return text.removeprefix("KafkaConnectionError: ")


#: What a delivery future (or a sync send) can fail with; modes catch this, nothing wider.
DELIVERY_ERRORS: tuple[type[BaseException], ...] = (KafkaError, asyncio.TimeoutError)
