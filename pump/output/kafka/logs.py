"""What aiokafka says only in its log: the produce retries it makes, and why a connection failed.

pump never changes a logger's level or propagation (they belong to the application).
A ``Tap`` adds handlers for as long as its sink is open and keeps only the records
logged in the sink's own context: the context is marked while the producer starts, and
aiokafka's sender task, created then, inherits the mark. So two replays in one event
loop each hear only their own producer. If the application silences aiokafka below
WARNING, those records are never made and retries cannot be counted; ``Tap`` says so.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

SENDER = "aiokafka.producer.sender"
_RETRY = "Got error produce response"
_CURRENT: ContextVar[Tap | None] = ContextVar("pump_aiokafka_tap", default=None)
log = logging.getLogger("pump")


class _Handler(logging.Handler):
    def __init__(self, tap: Tap, on_record: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(logging.WARNING)
        self._tap = tap
        self._on_record = on_record

    def emit(self, record: logging.LogRecord) -> None:
        if _CURRENT.get() is self._tap:
            self._on_record(record)


class Tap:
    def __init__(self, on_retry: Callable[[], None] | None) -> None:
        self.causes: list[str] = []  # what aiokafka logged at WARNING or above while the producer started
        self.last_errors: dict[int, object] = {}  # partition -> the broker's last retriable error for it
        self._on_retry = on_retry
        self._starting = False
        self._handlers = [
            (logging.getLogger("aiokafka"), _Handler(self, self._cause)),
            (logging.getLogger(SENDER), _Handler(self, self._retry)),
        ]

    def attach(self) -> None:
        for logger, handler in self._handlers:
            logger.addHandler(handler)
        if self._on_retry is not None and not logging.getLogger(SENDER).isEnabledFor(logging.WARNING):
            log.warning("produce retries are not counted: the %r logger is set above WARNING", SENDER)

    def detach(self) -> None:
        for logger, handler in self._handlers:
            logger.removeHandler(handler)

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Mark the current context (and the tasks started in it) as this tap's, and collect causes."""
        token = _CURRENT.set(self)
        self._starting = True
        try:
            yield
        finally:
            self._starting = False
            _CURRENT.reset(token)

    def _cause(self, record: logging.LogRecord) -> None:
        if self._starting:
            self.causes.append(record.getMessage())

    def _retry(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith(_RETRY):
            return
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 2 and isinstance(getattr(args[0], "partition", None), int):  # (TopicPartition, error)
            self.last_errors[args[0].partition] = args[1]
        if self._on_retry is not None:
            self._on_retry()
