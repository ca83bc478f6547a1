"""aiokafka's arguments from pump's settings: the only place seconds become ``_ms``.

``-X key=value`` passes any other producer argument through, but never one that a pump
setting already sets: a ``-X request_timeout_ms=2000`` that silently beat
``--delivery-timeout 120`` would fail records after 2 s, so it is refused, naming both.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from pump.config import ReplayConfig, SecuritySettings, config_error, verbatim

#: aiokafka producer arguments that pump settings set, and the setting that sets each.
OWNED: dict[str, str] = {
    "bootstrap_servers": "bootstrap_servers",
    "acks": "acks",
    "enable_idempotence": "idempotence",
    "linger_ms": "linger",
    "max_batch_size": "batch_bytes",
    "max_request_size": "max_message_bytes",
    "compression_type": "compression",
    "request_timeout_ms": "delivery_timeout",
    "security_protocol": "security_protocol",
    "ssl_context": "ssl_cafile",
    "sasl_mechanism": "sasl_mechanism",
    "sasl_plain_username": "sasl_username",
    "sasl_plain_password": "sasl_password",
    "transactional_id": "transactional_id",
}


def coerce(value: str) -> Any:
    """A ``-X`` value as aiokafka wants it: a bool, an int, a float, or the text."""
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
    producer, delivery = config.producer, config.delivery
    for key, value in producer.options.items():
        if key in OWNED:
            setting = OWNED[key]
            raise config_error(f"{{options}} {verbatim(key)}={verbatim(value)} sets what {{{setting}}} sets; use {{{setting}}}")
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap.split(","),
        "client_id": "pump",
        "acks": "all" if producer.acks == "all" else int(producer.acks),
        # sync waits for each ack before the next send: lingering would only add latency
        "linger_ms": 0 if delivery.mode == "sync" else int(producer.linger * 1000),
        "max_batch_size": producer.batch_bytes,
        "max_request_size": max(producer.batch_bytes, producer.max_message_bytes),
        "compression_type": None if producer.compression == "none" else producer.compression,
        "request_timeout_ms": int(delivery.delivery_timeout * 1000),
        "enable_idempotence": idempotent(config),
    }
    if config.transactions.exactly_once:  # the runner has set the member's own id (``pump.account.positions``)
        kwargs["transactional_id"] = config.transactions.transactional_id
    kwargs.update(client_kwargs(config.security))
    kwargs.update({k: coerce(v) for k, v in producer.options.items()})
    return kwargs


def idempotent(config: ReplayConfig) -> bool:
    """Whether to ask for the idempotent producer: on, or auto with acks=all (as Kafka's clients decide)."""
    producer = config.producer
    return producer.idempotence == "on" or (producer.idempotence == "auto" and producer.acks == "all")


def client_kwargs(security: SecuritySettings) -> dict[str, Any]:
    """The security arguments, for the producer and the admin client alike."""
    kwargs: dict[str, Any] = {"security_protocol": security.security_protocol}
    if security.security_protocol.endswith("SSL"):
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(security, name)
            if path is not None and not os.path.isfile(path):
                raise config_error(f"{{{name}}} {verbatim(path)}: no such file")
        try:
            kwargs["ssl_context"] = create_ssl_context(
                cafile=security.ssl_cafile, certfile=security.ssl_certfile, keyfile=security.ssl_keyfile
            )
        except (ssl.SSLError, OSError) as exc:
            raise config_error(
                f"TLS files rejected ({{ssl_cafile}}, {{ssl_certfile}}, {{ssl_keyfile}}): {verbatim(exc)}"
            ) from None
    if security.security_protocol.startswith("SASL"):
        assert security.sasl_password is not None
        kwargs |= {
            "sasl_mechanism": security.sasl_mechanism or "PLAIN",
            "sasl_plain_username": security.sasl_username,
            "sasl_plain_password": security.sasl_password.reveal(),
        }
    return kwargs
