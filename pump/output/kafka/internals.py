"""Every place pump reaches past aiokafka's public API, in one list: what it needs of aiokafka, what it buys, and the
guard that keeps a replay right (if slower, or saying less) where the installed aiokafka has moved it.

``WRITTEN_AGAINST`` are the aiokafka releases these were written and checked against. ``tests/test_kafka_internals.py``
checks every reach against the installed aiokafka and fails naming each one that moved, so an upgrade is a decision
taken with this list in hand, not a slowdown (or a lost count) found later. The guards themselves live where the
reaches are; ``holds`` is the same question asked of the installed aiokafka up front.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import aiokafka
from aiokafka.conn import AIOKafkaConnection, AIOKafkaProtocol
from aiokafka.producer import sender
from aiokafka.producer.message_accumulator import BatchBuilder, MessageAccumulator, MessageBatch

WRITTEN_AGAINST = ("0.13.0", "0.14.0")


@dataclass(frozen=True)
class Reach:
    where: str  # pump's module and part
    needs: str  # what of aiokafka's it reads, calls or replaces
    guard: str  # what pump does where it is not there
    holds: Callable[[], bool]  # whether the installed aiokafka has it


def _assigned(function: Callable[..., object], *names: str) -> bool:
    """Whether ``function``'s source assigns each ``self.<name>``."""
    source = inspect.getsource(function)
    return all(f"self.{name} =" in source for name in names)


def batch_state() -> bool:
    """A ``BatchBuilder``'s C record builder, record count and closed flag, as ``KafkaBatch.extend`` keeps them."""
    builder = BatchBuilder(1 << 20, 0)
    return all(hasattr(builder, name) for name in ("_builder", "_relative_offset", "_closed"))


def framed_batches() -> bool:
    """What ``FramedBatch`` stands in for: a built batch's buffer, its count, and how aiokafka numbers and takes it."""
    builder = BatchBuilder(1 << 20, 0)
    state = all(hasattr(builder, name) for name in ("_buffer", "_relative_offset", "_closed", "_key_serializer"))
    methods = all(callable(getattr(BatchBuilder, name, None)) for name in ("_set_producer_state", "_build", "record_count"))
    build = "_buffer" in inspect.getsource(BatchBuilder._build)
    return state and methods and build


def accumulator_batches() -> bool:
    """The accumulator's queued and in-flight batches, each with its future, deadline, failure and partition."""
    batch_api = all(callable(getattr(MessageBatch, name, None)) for name in ("expired", "failure"))
    return _assigned(MessageAccumulator.__init__, "_batches", "_pending_batches") and batch_api and "tp" in dir(MessageBatch)


def sender_task() -> bool:
    """The producer's sender and its task, to stop a producer that will not stop in time."""
    return _assigned(aiokafka.AIOKafkaProducer.__init__, "_sender", "_closed", "_message_accumulator") and isinstance(
        getattr(sender.Sender, "sender_task", None), property
    )


def retry_log() -> bool:
    """The sender's log line for a retriable produce error: the only place aiokafka says it retried."""
    source = inspect.getsource(sender)
    return "Got error produce response" in source


def closing_connections() -> bool:
    """A connection's close future, which nothing awaits when aiokafka drops a connection that failed to open."""
    return _assigned(AIOKafkaProtocol.__init__, "_closed_fut")


def produce_encoding() -> bool:
    """Produce requests' classes and their schemas, whose ``encode`` pump replaces with one that copies no batch."""
    from aiokafka.protocol.produce import ProduceRequest

    classes = getattr(ProduceRequest, "_CLASSES", ())
    return bool(classes) and all(isinstance(c, type) and hasattr(c, "SCHEMA") for c in classes)


def connection_send() -> bool:
    """``AIOKafkaConnection.send`` as written in the releases ``wire`` follows (its source's digest)."""
    from pump.output.kafka.wire import send_is_known

    fields = _assigned(AIOKafkaConnection.__init__, "_writer", "_versions", "_client_id", "_requests", "_loop")
    return send_is_known() and fields and callable(getattr(AIOKafkaConnection, "_next_correlation_id", None))


REACHES: tuple[Reach, ...] = (
    Reach("batch.KafkaBatch.extend", "BatchBuilder._builder, ._relative_offset, ._closed",
          "records go in through BatchBuilder.append, one call each (0.39 us a record against 0.20)", batch_state),
    Reach("batch.FramedBatch", "BatchBuilder's _buffer, _relative_offset, _closed, _set_producer_state, _build",
          "nothing is framed on the decode threads (framing.available): records go through aiokafka's builder",
          framed_batches),
    Reach("expiry", "MessageAccumulator._batches and ._pending_batches; MessageBatch.expired, .failure, .tp",
          "no batch is found outstanding: an idempotent producer's records never expire (aiokafka's own behaviour)",
          accumulator_batches),
    Reach("producer.KafkaSink._abandon", "AIOKafkaProducer._sender.sender_task, ._closed",
          "a producer that will not stop in time is left to the interpreter's exit", sender_task),
    Reach("logs.Tap", "the sender's warning 'Got error produce response' and its (partition, error) arguments",
          "retries are not counted and a failure's reason is never not_enough_replicas (timeout instead)", retry_log),
    Reach("closing.settle", "AIOKafkaProtocol._closed_fut", "nothing is waited for: the exit may warn of a transport",
          closing_connections),
    Reach("wire.install (encode)", "ProduceRequest._CLASSES and their SCHEMA",
          "aiokafka's encoding, which copies every batch six times, checked on a sample first", produce_encoding),
    Reach("wire.install (send)", "AIOKafkaConnection.send's source, ._writer, ._next_correlation_id and the fields it uses",
          "aiokafka's send, which joins each request twice more", connection_send),
)  # fmt: skip


def moved() -> list[str]:
    """A line for each reach the installed aiokafka no longer has; nothing if every one holds."""
    lines = []
    for reach in REACHES:
        try:
            held = reach.holds()
        except Exception as exc:  # a class or function that is gone altogether
            held, why = False, f" ({type(exc).__name__}: {exc})"
        else:
            why = ""
        if not held:
            lines.append(f"{reach.where}: aiokafka {aiokafka.__version__} lacks {reach.needs}{why}; so: {reach.guard}")
    return lines
