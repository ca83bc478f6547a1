"""aiokafka's errors, translated once, here: into ``DeliveryError`` for a record, ``BrokerError`` for a run.

As httpcore maps its network exceptions at one boundary, no ``aiokafka.errors`` type
leaves ``pump.output.kafka``: a delivery failure becomes a reason from the fixed set
``FAILURE_REASONS``, a failed connection a one-line explanation built from what aiokafka
logged while it tried (the only place it says why).
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    IllegalOperation,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    RequestTimedOutError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from pump.config import ReplayConfig, named, verbatim
from pump.errors import BrokerError
from pump.output.kafka.expiry import Expired
from pump.records import DeliveryError, FailureReason

#: What a send (or its outcome) can fail with; translated by ``failure_of``.
#: What a send may raise. IllegalOperation: a transactional producer's send outside a transaction (after an abort, a
#: batch still shipped by the attempt that is ending): its records fail, and the next attempt sends them again.
DELIVERY_ERRORS: tuple[type[BaseException], ...] = (KafkaError, asyncio.TimeoutError, IllegalOperation)
NOT_AUTHORIZED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)
#: Refused before they were written. Not NotEnoughReplicasAfterAppendError: those records are in the leader's log and
#: may reach the topic once replicas return, so their outcome is unknown (``timeout``).
TOO_FEW_REPLICAS = (NotEnoughReplicasError,)


def describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, Expired):
        return str(exc.args[0])
    text = str(exc) or type(exc).__name__
    return text.removeprefix("KafkaConnectionError: ")


def reason_of(exc: BaseException) -> FailureReason:
    """Classify a delivery failure. A timeout means the outcome is unknown, not that it was lost."""
    if isinstance(exc, Expired):  # the idempotent producer's timeout: say why, when the broker said
        last = exc.last if isinstance(exc.last, type) else type(exc.last)
        return "not_enough_replicas" if issubclass(last, TOO_FEW_REPLICAS) else "timeout"
    if isinstance(exc, TOO_FEW_REPLICAS):
        return "not_enough_replicas"
    if isinstance(exc, KafkaTimeoutError | RequestTimedOutError | asyncio.TimeoutError | NotEnoughReplicasAfterAppendError):
        return "timeout"
    if isinstance(exc, MessageSizeTooLargeError):
        return "too_large"
    if isinstance(exc, NOT_AUTHORIZED):
        return "not_authorized"
    if isinstance(exc, KafkaConnectionError):
        return "connection"
    if isinstance(exc, KafkaError):
        return "broker"
    return "other"


def failure_of(exc: BaseException) -> DeliveryError:
    return DeliveryError(reason_of(exc), describe(exc))


def connect_error(exc: BaseException, causes: list[str], config: ReplayConfig, bootstrap: str, topic: str) -> BrokerError | None:
    """What to tell the user when the producer could not start; None: not an error of ours to explain."""
    protocol = config.security.security_protocol
    where = f"cannot use Kafka at {verbatim(bootstrap)}"
    if lost_connection(exc) and causes:
        return named(BrokerError, f"{where}: {explain(causes[-1], protocol)}")
    if isinstance(exc, SaslAuthenticationFailed):
        said = describe(exc).split("SaslAuthenticationFailed: ", 1)[-1]
        return BrokerError(f"cannot use Kafka at {bootstrap}: SASL authentication failed: {said}")
    if isinstance(exc, NOT_AUTHORIZED):
        return BrokerError(not_authorized(topic, config, describe(exc)))
    if protocol.startswith("SASL") and isinstance(exc, KeyError | ValueError):
        # aiokafka's SCRAM client raises KeyError('v') when the server's final message is an error
        return BrokerError(f"cannot use Kafka at {bootstrap}: SASL authentication failed: the broker rejected the login")
    if refused_idempotence(exc, config) and config.transactions.exactly_once:
        return named(
            BrokerError,
            f"the broker at {verbatim(bootstrap)} refused a transactional producer ({{exactly_once}}):"
            f" {verbatim(describe(exc))}; exactly once needs a broker with Kafka's transactions (Apache Kafka does; the"
            " embedded Tansu does not); without it, pump replays at-least-once",
        )
    if refused_idempotence(exc, config):
        return named(
            BrokerError,
            f"the broker at {verbatim(bootstrap)} refused the idempotent producer ({{idempotence}} on):"
            f" {verbatim(describe(exc))}; use {{idempotence}} auto or off to run at-least-once",
        )
    if isinstance(exc, KafkaError | OSError | asyncio.TimeoutError):
        return BrokerError(f"cannot use Kafka at {bootstrap}: {describe(exc)}")
    return None


def refused_idempotence(exc: BaseException, config: ReplayConfig) -> bool:
    """Starting an idempotent producer failed at the broker (not on the way to it, and not for want of the user's
    rights): Tansu answers InitProducerId so."""
    if config.producer.idempotence == "off" or not isinstance(exc, KafkaError) or lost_connection(exc):
        return False
    return not isinstance(exc, (SaslAuthenticationFailed, *NOT_AUTHORIZED))


def lost_connection(exc: BaseException) -> bool:
    """A connection failed or closed (aiokafka's transactional start wraps it in a bare ``KafkaError``)."""
    return isinstance(exc, KafkaConnectionError) or isinstance(exc.__cause__, KafkaConnectionError)


def not_authorized(topic: str, config: ReplayConfig, said: str) -> str:
    user = config.security.sasl_username
    who = f"user {user!r}" if user else "this client"
    return f"{who} is not authorized to write to topic {topic!r} ({said}); it needs WRITE on the topic"


def explain(cause: str, protocol: str) -> str:
    """One line on why the handshake failed, from aiokafka's own words (a template naming settings)."""
    cause = verbatim(cause.split(": ", 1)[-1] if cause.startswith("Unable") else cause)
    if "SaslAuthenticationFailed: " in cause:
        return f"SASL authentication failed: {cause.split('SaslAuthenticationFailed: ', 1)[1]}"
    if "CERTIFICATE_VERIFY_FAILED" in cause:
        return f"TLS certificate not trusted ({cause.split('] ', 1)[-1].split(' (_ssl')[0]}); check {{ssl_cafile}}"
    if "SSL" in cause or "TLS" in cause:
        return f"TLS handshake failed ({cause}); does the listener speak TLS? ({{security_protocol}} {protocol})"
    if "closed" in cause:
        if protocol.startswith("SASL"):
            return "SASL authentication failed: the broker closed the connection (wrong user or password, or a refused mechanism)"
        return (
            f"the broker closed the connection during the handshake ({protocol}): it may require authentication or TLS"
            " ({security_protocol} SASL_PLAINTEXT, SSL or SASL_SSL)"
        )
    if "refused" in cause.lower() or "Errno 111" in cause or "Connect call failed" in cause:
        return "connection refused: is a broker listening there?"
    return cause
