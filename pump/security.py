"""How pump authenticates to the cluster: TLS files, SASL mechanism and user, and the password.

The password comes only from ``$PUMP_SASL_PASSWORD`` or ``--sasl-password-file`` (never a
flag value that lands in shell history), lives in a ``Secret`` whose repr hides it, and is
never logged or put in a report.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, Literal

import msgspec
from aiokafka.helpers import create_ssl_context

from pump.errors import UsageError

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PASSWORD_ENV = "PUMP_SASL_PASSWORD"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class Security(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    protocol: Protocol = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None

    def __post_init__(self) -> None:
        sasl = self.protocol.startswith("SASL")
        if sasl and not (self.sasl_username and self.sasl_password):
            raise UsageError(
                f"--security-protocol {self.protocol} needs --sasl-username and ${PASSWORD_ENV} or --sasl-password-file"
            )
        if not sasl and (self.sasl_mechanism or self.sasl_username):
            raise UsageError("--sasl-* options need --security-protocol SASL_PLAINTEXT or SASL_SSL")
        if not self.protocol.endswith("SSL") and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise UsageError("--ssl-* options need --security-protocol SSL or SASL_SSL")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise UsageError(f"--{name.replace('_', '-')} {path}: no such file")

    def client_kwargs(self) -> dict[str, Any]:
        """aiokafka's arguments, for the producer and the admin client alike."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.endswith("SSL"):
            try:
                kwargs["ssl_context"] = create_ssl_context(
                    cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
                )
            except (ssl.SSLError, OSError) as exc:
                raise UsageError(f"TLS files rejected: {exc}") from None
        if self.protocol.startswith("SASL"):
            assert self.sasl_password is not None
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism or "PLAIN",
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.reveal(),
            }
        return kwargs


def read_password(password_file: str | None) -> Secret | None:
    if password_file is not None:
        try:
            with open(password_file, encoding="utf-8") as f:
                return Secret(f.read().rstrip("\r\n"))
        except OSError as exc:
            raise UsageError(f"--sasl-password-file {password_file}: {exc.strerror or exc}") from None
    value = os.environ.get(PASSWORD_ENV)
    return Secret(value) if value else None
