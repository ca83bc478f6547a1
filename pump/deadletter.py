"""Dead letters: where an invalid line or an undeliverable record goes, raw, with why.

``--dead-letter PATH`` appends JSON lines to a file; ``--dead-letter topic:NAME`` produces
them to a Kafka topic. Each entry: file, line, byte offset, reason (a decode reason, or
``delivery``), message and the raw line (``raw``, or ``raw_base64`` if it is not UTF-8).
A dead letter counts as handled only once it is written: flushed and fsynced for a file,
acknowledged for a topic.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Protocol

import msgspec

from pump.errors import UsageError


class DeadLetter(msgspec.Struct, omit_defaults=True):
    file: str
    line: int
    offset: int
    reason: str
    message: str
    raw: str | None = None
    raw_base64: str | None = None

    @classmethod
    def of(cls, file: str, line: int, offset: int, reason: str, message: str, raw: bytes) -> DeadLetter:
        try:
            return cls(file, line, offset, reason, message, raw=raw.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(file, line, offset, reason, message, raw_base64=base64.b64encode(raw).decode())


_encode = msgspec.json.Encoder().encode


class DeadLetters(Protocol):
    target: str

    async def write(self, letters: list[DeadLetter]) -> None: ...

    def sync(self) -> None:
        """Make everything written so far durable (before a checkpoint counts it as handled)."""

    def close(self) -> None: ...


class FileDeadLetters:
    def __init__(self, path: str) -> None:
        self.target = path
        try:
            self._file = open(path, "ab")  # noqa: SIM115 - kept open for the run, closed in close()
        except OSError as exc:
            raise UsageError(f"--dead-letter {path}: {exc.strerror or exc}") from None

    async def write(self, letters: list[DeadLetter]) -> None:
        self._file.write(b"".join(_encode(letter) + b"\n" for letter in letters))
        self._file.flush()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


class TopicDeadLetters:
    """Produces dead letters to a topic through the run's own producer, and waits for the acks."""

    def __init__(self, topic: str, send: Any) -> None:
        self.target = f"topic:{topic}"
        self._topic = topic
        self._send = send  # Cluster.send_to

    async def write(self, letters: list[DeadLetter]) -> None:
        futures = [await self._send(self._topic, None, _encode(letter)) for letter in letters]
        for fut in futures:
            await fut

    def sync(self) -> None:
        return None

    def close(self) -> None:
        return None
