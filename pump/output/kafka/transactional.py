"""A producer's transactions (``--exactly-once``), and their failures in pump's terms.

Fencing (a newer producer with the same transactional id), authorization and a broken sequence end the run: no later
transaction of this producer could commit. Anything else that keeps a transaction from committing (a record that
failed, a coordinator that moved, a timeout) aborts it, and the run goes on from the last committed position
(``TransactionAborted``). aiokafka's transactional requests are version 0 and its coordinator handling is its own
(see ``tests/test_apache_kafka_exactly_once.py`` for what was seen of a coordinator's broker killed mid-transaction).
"""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TransactionalIdAuthorizationFailed,
)

from pump.errors import BrokerError, PumpError, TransactionAborted
from pump.output.kafka.errors import NOT_AUTHORIZED, describe
from pump.output.kafka.waits import within

#: What ends the run, not just the transaction.
FATAL = (ProducerFenced, OutOfOrderSequenceNumber, TransactionalIdAuthorizationFailed, *NOT_AUTHORIZED)


def transaction_error(exc: BaseException, transactional_id: str) -> PumpError:
    """``exc`` from a transactional call, in pump's terms."""
    if isinstance(exc, ProducerFenced):
        return BrokerError(
            f"fenced: another pump started with transactional id {transactional_id!r}; this one stops, and what it had"
            " not committed is aborted (the other goes on from the last committed position)"
        )
    if isinstance(exc, TransactionalIdAuthorizationFailed):
        return BrokerError(
            f"not authorized to use transactional id {transactional_id!r}: --exactly-once needs WRITE and DESCRIBE on it"
        )
    if isinstance(exc, FATAL):
        return BrokerError(f"transactions of {transactional_id!r} cannot go on: {describe(exc)}")
    return TransactionAborted(f"a transaction of {transactional_id!r} was aborted: {describe(exc)}")


async def begin(producer: AIOKafkaProducer, transactional_id: str) -> None:
    try:
        await producer.begin_transaction()
    except KafkaError as exc:
        raise transaction_error(exc, transactional_id) from None


async def commit(
    producer: AIOKafkaProducer,
    transactional_id: str,
    positions_topic: str,
    positions: dict[bytes, bytes | None],
    seconds: float,
) -> None:
    """The positions, then the commit; a failure aborts the transaction (where it still can be) and is raised."""
    try:
        delivered = [await producer.send(positions_topic, value, key=key, partition=0) for key, value in positions.items()]
        await within(producer.commit_transaction(), seconds)
        for future in delivered:
            await future
    except (KafkaError, TimeoutError) as exc:
        error = transaction_error(exc, transactional_id)
        if isinstance(error, TransactionAborted):
            await abort(producer, transactional_id, seconds)
        raise error from None


async def abort(producer: AIOKafkaProducer, transactional_id: str, seconds: float) -> None:
    """Abort the open transaction; where even that fails, the next producer with the id aborts it as it starts."""
    with contextlib.suppress(KafkaError, TimeoutError, AssertionError):
        await within(producer.abort_transaction(), seconds)
