"""``--delivery-timeout`` for the idempotent producer, which aiokafka never expires.

aiokafka retries an idempotent producer's batch until it succeeds ("we can be sure that no
duplicates will be introduced"), so with too few in-sync replicas a replay would wait forever
and the delivery timeout would mean nothing. Kafka's Java producer expires such batches after
``delivery.timeout.ms`` and then bumps its epoch so that the sequence numbers start afresh.
pump does the same with what aiokafka offers: when a batch is older than the delivery timeout,
the sink stops sending, lets every other outstanding batch finish or reach its own deadline,
fails the rest with ``Expired`` (naming the last error the broker gave for the partition),
and goes on with a new producer (a new producer id, so sequences start afresh).

This reads aiokafka's accumulator (its queued and in-flight batches), which has no public
API for it; aiokafka's own ``fail_all`` is the model, and the reads are guarded.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


class Expired(KafkaError):
    """A batch not acknowledged within the delivery timeout; ``last``: the broker's last answer for it, if any."""

    retriable = False

    def __init__(self, seconds: float, last: BaseException | type[BaseException] | str | None) -> None:
        self.seconds = seconds
        self.last = last
        said = getattr(last, "message", None) or getattr(last, "__name__", None) or last
        super().__init__(f"not acknowledged within {seconds:g} s" + (f"; the broker last answered {said}" if said else ""))


def outstanding(producer: AIOKafkaProducer) -> list[Any]:
    """The producer's batches not yet acknowledged or failed: queued, waiting to be retried, or in flight."""
    accumulator = getattr(producer, "_message_accumulator", None)
    queued = getattr(accumulator, "_batches", None)
    pending = getattr(accumulator, "_pending_batches", None)
    if queued is None or pending is None:
        return []
    batches = [batch for deque in queued.values() for batch in deque]
    batches.extend(pending)
    return [batch for batch in batches if not batch.future.done()]


def any_expired(producer: AIOKafkaProducer) -> bool:
    return any(batch.expired() for batch in outstanding(producer))


def fail_expired(producer: AIOKafkaProducer, seconds: float, last_errors: dict[int, Any]) -> None:
    """Fail every outstanding batch with ``Expired`` (call once all of them are past their deadline). A batch whose
    request is still unanswered may yet be written: it is failed without the partition's last answer, so its
    reason is ``timeout`` (unknown), never ``not_enough_replicas`` (not written)."""
    in_flight = getattr(getattr(producer, "_message_accumulator", None), "_pending_batches", ())
    for batch in outstanding(producer):
        batch.failure(Expired(seconds, None if batch in in_flight else last_errors.get(batch.tp.partition)))
