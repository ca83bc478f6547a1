"""Errors pump raises, and what the command line does with them.

    PumpError                      base of everything pump raises on purpose
    +-- UsageError                 bad options or configuration            (exit 2)
    |   +-- ConfigError            one setting's value is wrong; names the setting
    +-- InputError                 a file cannot be opened or read         (exit 2)
    +-- BrokerError                the cluster cannot be reached or used   (exit 2)
    |   +-- TopicError             the topic is missing or cannot be made  (exit 2)
    |   +-- TransactionAborted     --exactly-once: a transaction could not commit, and was aborted (retried)
    +-- RegistryError              the Schema Registry cannot be reached, or refused the schema (exit 2)
    +-- Interrupted                a second SIGINT/SIGTERM aborted the run (exit 128 + signal)

Per-line problems (malformed JSON, a wrong type, a missing key) are not
exceptions that escape: they are recorded as ``Invalid`` outcomes with file,
line and reason, and the run goes on. Per-record delivery failures are
``DeliveryError`` values the send modes record the same way
(``pump.output.sink``); they never reach the caller.
"""

from __future__ import annotations

import signal
import string
from collections.abc import Callable


class PumpError(Exception):
    """Base class of every error pump raises on purpose. ``str()`` is a one-line message.

    A message that names settings keeps them as ``{name}`` fields of ``template``:
    ``str()`` names them as a library caller knows them (``delivery.max_in_flight``),
    and the command line renders the same template with its flags (``--max-in-flight``),
    so each audience reads the names it typed (``pump.config.named`` builds such errors).
    """

    exit_code: int = 2
    template: str | None = None

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message, with the settings it names as ``name_of`` gives them."""
        if self.template is None:
            return str(self)
        names = {name: name_of(name) for _, name, _, _ in string.Formatter().parse(self.template) if name}
        return self.template.format_map(names)

    def __reduce__(self) -> tuple[Callable[..., PumpError], tuple[type[PumpError], str, str | None]]:
        return (_restore, (type(self), str(self), self.template))  # crosses process boundaries intact


def _restore(cls: type[PumpError], message: str, template: str | None) -> PumpError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.template = template
    return error


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (a library's may run to many), for a one-line error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class UsageError(PumpError):
    """The options or the configuration do not make sense."""


class ConfigError(UsageError):
    """A setting's value is wrong, or settings contradict each other; the message names them."""


class InputError(PumpError):
    """An input file cannot be opened or read. Names the file and, when known, the line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None]]:  # crosses process boundaries intact
        return (type(self), (self.path, self.message, self.line))


class BrokerError(PumpError):
    """The Kafka cluster cannot be reached, or refused what pump asked of it."""


class TopicError(BrokerError):
    """The topic does not exist and was not created, or its creation failed."""


class RegistryError(PumpError):
    """The Schema Registry cannot be reached, or refused what pump asked of it (a schema it finds incompatible, a
    subject it does not have); said before any record is sent."""


class TransactionAborted(BrokerError):
    """A transaction could not commit (a record it held failed, or the commit itself), and was aborted: nothing in it
    is visible to ``read_committed`` consumers, and the run goes on from the last committed position."""


class Interrupted(PumpError):
    """A second SIGINT/SIGTERM aborted the run; the checkpoint (if any) was still written."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"aborted by a second {name}; the checkpoint, if any, holds only what was handled")
        self.signum = signum
        self.exit_code = 128 + signum
