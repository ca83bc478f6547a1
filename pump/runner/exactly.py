"""``--exactly-once``: a member's replay in transactions, attempt after attempt from its last committed positions.

Each attempt opens the member's transactional producer first (fencing any other pump of the member), then reads the
job's committed positions (refusing those of another layout), plans from its own, and runs. An attempt whose
transaction could not commit is aborted (``TransactionAborted``) and the next starts from the last commit, its counts
taken back to what was committed; ``MOST_ABORTS`` in a row, with no commit between, end the run."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses

import msgspec

from pump.account import Completion, Ledger
from pump.account.accounts import counting_retries
from pump.account.checkpoint import State
from pump.account.positions import job_of, laid_out_otherwise, member_of
from pump.config import ReplayConfig, config_error, verbatim
from pump.errors import TransactionAborted
from pump.input.shards import parse_shard
from pump.observe import Ending, ExactlyOnce, Report
from pump.output import Cluster
from pump.runner.assemble import Run, Watch, assemble, kafka
from pump.runner.execute import execute, finish
from pump.runner.plan import Committed, plan_of
from pump.signals import Controls

#: Transactions aborted one after another, none committed between them, before the run gives up (each retried after a
#: pause of this many seconds times its number).
MOST_ABORTS, ABORT_PAUSE = 5, 1.0


def _member(config: ReplayConfig, part: tuple[int, int] | None) -> ReplayConfig:
    """``config`` with this member's transactional id: the job's name (``config``'s), then its shard's and process's."""
    shard = parse_shard(config.input.shard) if config.input.shard is not None else None
    member = member_of(job_of(config), shard, part)
    return msgspec.structs.replace(config, transactions=msgspec.structs.replace(config.transactions, transactional_id=member))


async def exactly_once(
    config: ReplayConfig,
    cluster: Cluster | None,
    metrics: Watch | None,
    controls: Controls,
    part: tuple[int, int] | None = None,
    ledger: Ledger | None = None,
) -> Report:
    """A replay in transactions (by one member of the job ``config`` names: process ``part``, where there are
    processes). Each attempt starts at the last committed positions; one whose transaction could not commit is
    aborted and run again from them, its counts taken back to what was committed."""
    job, config = job_of(config), _member(config, part)
    ledger = ledger if ledger is not None else Ledger(max_invalid_shown=config.observe.max_invalid_shown)
    attempts = _Attempts(config, ledger)
    async with contextlib.AsyncExitStack() as outer:
        if cluster is None:
            cluster = await outer.enter_async_context(kafka(config))
        while True:
            config = attempts.config
            async with contextlib.AsyncExitStack() as stack:
                sink = await stack.enter_async_context(cluster.sink(config.topic, config.producer.partitions,
                                                                    counting_retries(ledger, metrics)))  # fmt: skip
                found = await _committed(config, job, await cluster.committed(job))  # once a transactional producer is in
                plan = await asyncio.to_thread(plan_of, config, part, None, found)
                run = await assemble(stack, config, plan, cluster, metrics, ledger, attempts.keep, sink)
                attempts.begin(run, found)
                try:
                    ending = await execute(config, run, None, controls)
                except TransactionAborted as exc:
                    run.sink.hurry(1.0)  # what the aborted transaction has in flight is sent again: no need to wait
                    aborted = exc
                else:
                    return attempts.report(run, ending, metrics)
            if not attempts.aborted(run, aborted):
                raise aborted
            await asyncio.sleep(ABORT_PAUSE * attempts.tally[2])  # and what the attempt's closing set in motion is over
            attempts.restore()


class _Attempts:
    """What carries over from one attempt to the next: the counts as of the last commit, the transactions' tally, what
    each abort said, and the config (once something is committed, a ``--restart`` is done, and ``--limit`` counts
    what was)."""

    def __init__(self, config: ReplayConfig, ledger: Ledger) -> None:
        self.config, self.ledger = config, ledger
        self.committed = copy.deepcopy(ledger)  # the counts at the last commit
        self.tally = [0, 0, 0]  # transactions committed and aborted, aborts in a row
        self.said: list[str] = []
        self.restarted = False  # committed positions were found, and --restart ignored them
        self.resumed: bool | None = None  # the first attempt began at committed positions
        self._base = (0, 0, 0)  # the input counts the attempt began with
        self._completion: Completion | None = None

    def begin(self, run: Run, found: Committed) -> None:
        led, restart = self.ledger, self.config.checkpoint.restart
        self._base, self._completion = (led.bytes_read, led.raw_bytes_read, led.lines), run.accounts.completion
        self.restarted = self.restarted or (found.state is not None and restart)
        if self.resumed is None:
            self.resumed = found.state is not None and not restart

    def keep(self) -> None:
        """At a commit: the counts, with the input read as far as the committed positions (not the chunks read ahead,
        which an attempt after an abort reads again) and no file counted (it opens them all again)."""
        assert self._completion is not None
        snapshot = copy.deepcopy(self.ledger)
        handled = self._completion.handled
        snapshot.bytes_read, snapshot.raw_bytes_read, snapshot.lines = (b + h for b, h in zip(self._base, handled, strict=True))
        snapshot.files = 0
        self.committed = snapshot

    def aborted(self, run: Run, exc: TransactionAborted) -> bool:
        """An attempt's transaction was aborted: whether to try again."""
        self._count(run, aborted=True)
        if self.tally[2] >= MOST_ABORTS:
            return False
        self.said.append(f"{exc}; its records were sent again from the last committed position")
        return True

    def restore(self) -> None:
        """Before the next attempt: the counts taken back to the last commit, and the config for what is left."""
        for f in dataclasses.fields(Ledger):
            if f.name not in ("started", "finished"):
                setattr(self.ledger, f.name, copy.deepcopy(getattr(self.committed, f.name)))
        r, config = msgspec.structs.replace, self.config
        if self.tally[0] and config.checkpoint.restart:  # what --restart asked for is committed: resume from it
            config = r(config, checkpoint=r(config.checkpoint, restart=False))
        if config.input.limit is not None and self.ledger.lines:  # --limit: what is left of it
            config = r(config, input=r(config.input, limit=max(config.input.limit - self.ledger.lines, 1)))
        self.config = config

    def report(self, run: Run, ending: Ending, metrics: Watch | None) -> Report:
        self._count(run, aborted=False)
        config = self.config
        summary = ExactlyOnce(str(config.transactions.transactional_id), config.transactions.positions_topic,
                              self.tally[0], self.tally[1], bool(self.resumed), self.restarted)  # fmt: skip
        report = finish(config, run, metrics, ending, summary)
        return msgspec.structs.replace(report, warnings=[*self.said, *report.warnings])

    def _count(self, run: Run, aborted: bool) -> None:
        t, tally = run.transactions, self.tally
        assert t is not None
        tally[0] += t.committed
        tally[1] += t.aborted
        tally[2] = tally[2] + 1 if aborted else 0


async def _committed(config: ReplayConfig, job: str, positions: dict[str, bytes]) -> Committed:
    """The member's last committed positions, if any; positions of the job under another layout are refused."""
    member, topic = str(config.transactions.transactional_id), config.transactions.positions_topic
    stale = laid_out_otherwise(job, member, sorted(positions))
    if stale and not config.checkpoint.restart:
        raise config_error(
            f"{{positions_topic}} {verbatim(repr(topic))} holds positions of {verbatim(repr(stale[0]))}, committed by a"
            f" replay laid out otherwise (this one's member is {verbatim(repr(member))}): each member resumes its own"
            " share, so run it as that one ran (the same {shard} and {processes}), or add {restart} to replay from the start"
        )
    value = positions.get(member)
    if value is None:
        return Committed(None, stale)
    try:
        return Committed(msgspec.json.decode(value, type=State), stale)
    except msgspec.DecodeError as exc:
        raise config_error(
            f"the positions of {verbatim(repr(member))} in {{positions_topic}} are not pump's ({verbatim(exc)});"
            " add {restart} to replay from the start"
        ) from None
