"""``--exactly-once``: a run's records in transactions, each committed with the input position it reaches.

The engine hands its chunks to the send mode one at a time, in input order; after each, ``after`` says whether the
open transaction has held enough (``--transaction-records``) or long enough (``--transaction-ms``). Then ``commit``
ships what is buffered and waits until every record sent is settled (within ``--delivery-timeout``), waits for the
dead letters to be written (to a topic: in the same transaction; to a file: made durable first), and writes the
accounts' positions (every line before them handled) with the commit: the records and the position become visible
together, or, aborted, neither does (Kafka Connect's exactly-once sources do the same with an offsets topic,
KIP-618). The next transaction opens at once.

A commit that fails aborts its transaction and raises ``TransactionAborted``: the run then goes on from the last
committed position (``pump.runner.exactly``). Failures no later transaction could escape (fenced, not authorized) raise
``BrokerError`` and end it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from pump.account import Accounts, Checkpoint
from pump.errors import TransactionAborted
from pump.output.modes import SendMode
from pump.output.sink import Transactional


class Tally(Protocol):
    """What watches the transactions (``pump.observe.metrics.Metrics``)."""

    def transaction(self, outcome: str, seconds: float) -> None: ...


class Transactions:
    """``key``: the member's key in the positions topic; ``stale``: keys its first commit deletes (the job's members of
    another layout, replaced by a ``--restart``); ``dead_letter_size``: the dead-letter file's size, where there is one
    (committed with the positions: a resume cuts the file back to it)."""

    def __init__(
        self,
        sink: Transactional,
        mode: SendMode,
        accounts: Accounts,
        positions: Checkpoint,
        key: bytes,
        interval: float,
        most: int,
        stale: list[bytes] | None = None,
        dead_letter_size: Callable[[], int | None] = lambda: None,
        tally: Tally | None = None,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        *,
        settle_within: float = 30.0,
    ) -> None:
        self.sink, self.mode, self.accounts, self.positions = sink, mode, accounts, positions
        self.key, self.interval, self.most = key, interval, most
        self._stale = stale or []
        self.settle_within = settle_within  # --delivery-timeout: how long a commit waits for its records' outcomes
        self.committed = 0
        self.aborted = 0
        self._dead_letter_size = dead_letter_size
        self._tally = tally
        self._on_commit = on_commit
        self._fresh = positions.loaded is None or positions.restart  # nothing committed to resume from
        self._clock = clock
        self._opened: float | None = None  # when the open transaction began; None: none is open
        self._lines = 0  # input lines the open transaction has taken so far

    async def begin(self) -> None:
        await self.sink.begin()
        self._opened, self._lines = self._clock(), 0
        if self._fresh:  # the run's start is committed first: a run killed before its first commit resumes from there
            self._fresh = False
            await self.commit()
            await self.begin()

    async def after(self, lines: int) -> None:
        """A chunk of ``lines`` input lines was handed on: commit the open transaction if it is due, and open the next."""
        self._lines += lines
        assert self._opened is not None
        if self._lines >= self.most or self._clock() - self._opened >= self.interval:
            await self.commit()
            await self.begin()

    async def when_due(self) -> None:
        """Commit the open transaction if it holds lines and its time is up, and open the next: for inputs that may
        stay quiet (``--follow``), whose last lines would otherwise wait for the next chunk to be committed. Never while
        a chunk is being sent (the engine holds its turn)."""
        if self._opened is not None and self._lines and self._clock() - self._opened >= self.interval:
            await self.commit()
            await self.begin()

    async def commit(self) -> None:
        """Every record sent so far, settled, committed with the position every line before it is handled up to."""
        assert self._opened is not None
        opened, self._opened = self._opened, None
        try:
            await self._settle()
            self.positions.record(self.accounts.completion.positions)
            self.positions.state.dead_letter_bytes = self._dead_letter_size()
            await self.sink.commit({**dict.fromkeys(self._stale), self.key: self.positions.encoded()})
        except BaseException:
            self._note("aborted", opened)
            raise
        self._stale = []
        self._note("committed", opened)
        self._on_commit()

    async def _settle(self) -> None:
        """Ship what is buffered and wait for every record's outcome, for at most ``settle_within`` seconds: a
        transactional producer's batches never expire in aiokafka, so a partition that stays unavailable would hold the
        commit forever. Past that, the transaction is aborted and its records sent again from the last commit."""
        try:
            async with asyncio.timeout(self.settle_within):
                await self.mode.flush()
                await self.accounts.drain()
        except TimeoutError:
            await self.sink.abort()
            raise TransactionAborted(
                f"a transaction was aborted: its records were not all acknowledged within the delivery timeout"
                f" ({self.settle_within:g} s)"
            ) from None

    async def finish(self, settled: bool) -> None:
        """At the end of the run: the open transaction committed where every record sent is settled, else aborted (a
        stop that gave up waiting leaves records with no outcome, which no position may claim)."""
        if self._opened is None:
            return
        if settled:
            await self.commit()
            return
        opened, self._opened = self._opened, None
        await self.sink.abort()
        self._note("aborted", opened)

    def _note(self, outcome: str, opened: float) -> None:
        if outcome == "committed":
            self.committed += 1
        else:
            self.aborted += 1
        if self._tally is not None:
            self._tally.transaction(outcome, self._clock() - opened)
