"""A replay in N processes: start them, pass on stop requests, merge what they say, end as one run.

Each process (``pump.cli.child``) reads every input and sends the partitions
``p % N == j`` (of its shard's), so every key's records are sent by one process, in input
order. This one starts them (spawned: a fresh interpreter each, never a fork of a running
event loop; each makes its producer after it starts), sends each its ``Spec``, and then
only listens: their ticks become one ledger (so one progress line, one report) and one set
of metrics (their tally calls made again here), their checkpoint positions one checkpoint
file, with a part per process.

A process that dies (killed, out of memory) fails the run with one line; the others are
stopped as at a first signal, and the records it had in flight at its last tick are
reported as having no known outcome (its checkpoint part holds what it had handled).
However the run ends, no process outlives it: a process still running after its stdin
closed and the shutdown timeout is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from pump.account import Checkpoint, Ledger
from pump.config import ReplayConfig
from pump.errors import Interrupted, PumpError
from pump.input import Position, Source
from pump.observe import Ending, ExactlyOnce, Metrics, Progress, Report, build_report
from pump.output import in_flight_limit
from pump.parallel import wire
from pump.parallel.wire import TALLY_CALLS, Done, Failed, LedgerState, Saved, Spec, Tick
from pump.signals import Controls

GRACE_SECONDS = 15.0  # after the shutdown timeout, before a process that does not stop is killed


@dataclass
class _Child:
    index: int
    count: int
    process: asyncio.subprocess.Process | None = None
    state: LedgerState | None = None
    queued: int = 0
    done: Done | None = None
    failed: PumpError | None = None
    died: str | None = None
    positions: dict[str, Position] = field(default_factory=dict)

    @property
    def name(self) -> str:
        pid = f", pid {self.process.pid}" if self.process is not None else ""
        return f"process {self.index + 1} of {self.count}{pid}"

    def request(self, signum: int) -> None:
        """A stop request (a byte, the signal's number), if it still listens."""
        stdin = self.process.stdin if self.process is not None else None
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(OSError):
                stdin.write(bytes([signum]))


@dataclass
class _Delivered:
    """What the report reads of the sink, from the processes' reports."""

    partitions: int
    idempotent: bool
    warnings: list[str]


class _Run:
    def __init__(self, config: ReplayConfig, count: int, checkpoint: Checkpoint | None, metrics: Metrics | None) -> None:
        self.config = config
        self.children = [_Child(i, count) for i in range(count)]
        self.ledger = Ledger(max_invalid_shown=config.observe.max_invalid_shown)
        self.checkpoint = checkpoint
        self.metrics = metrics
        self.stopping: list[int] = []
        self._dirty = asyncio.Event()

    def stop(self, signum: int) -> None:
        self.stopping.append(signum)
        for child in self.children:
            child.request(signum)

    def _merge(self) -> None:
        wire.merge([c.state for c in self.children if c.state is not None], self.ledger)

    def _tally(self, calls: list[wire.Call]) -> None:
        if self.metrics is None:
            return
        for name, args in calls:
            if name in TALLY_CALLS:
                getattr(self.metrics, name)(*args)

    def _take(self, child: _Child, message: wire.Message) -> None:
        if isinstance(message, Tick):
            child.state, child.queued = message.ledger, message.queued
            self._tally(message.calls)
            self._merge()
        elif isinstance(message, Saved):
            child.positions = {path: Position(*p) for path, p in message.positions.items()}
            self._dirty.set()
        elif isinstance(message, Done):
            child.done, child.state, child.queued = message, message.ledger, 0
            self._tally(message.calls)
            self._merge()
        elif isinstance(message, Failed):
            child.failed = message.exception()

    async def watch(self, child: _Child, spec: Spec) -> None:
        """Start ``child``, give it its spec, take its messages until it exits; a death stops the others."""
        try:
            child.process = process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pump.cli.child", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            child.failed = PumpError(f"cannot start {child.name}: {exc.strerror or exc}")
            self.stop(signal.SIGTERM)
            return
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(wire.frame(pickle.dumps(spec)))
        with contextlib.suppress(OSError):
            await process.stdin.drain()
        with contextlib.suppress(asyncio.IncompleteReadError):
            while child.done is None and child.failed is None:
                size = wire.length(await process.stdout.readexactly(wire.HEADER))
                self._take(child, wire.decode(await process.stdout.readexactly(size)))
        try:  # it has said all it will say; its exit should follow at once
            status = await asyncio.wait_for(process.wait(), GRACE_SECONDS)
        except TimeoutError:
            process.kill()
            status = await process.wait()
        if child.done is None and child.failed is None and (status != 0 or not self.stopping):
            how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}"
            lost = child.state.records - child.state.acked - child.state.failed if child.state else 0
            child.died = (
                f"{child.name} died ({how}); the {lost:,} records it had taken and not settled have no known outcome"
                " (a resume from the checkpoint sends them again)"
            )
        if child.died or child.failed:
            self.stop(signal.SIGTERM)

    async def save_checkpoints(self) -> None:
        """Writes the checkpoint whenever a process sent positions (on a thread, one write at a time)."""
        if self.checkpoint is None:
            return
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._write()

    async def _write(self) -> None:
        checkpoint = self.checkpoint
        if checkpoint is None:
            return
        for child in self.children:
            if child.positions:
                checkpoint.record(child.positions, child.index)
        await asyncio.to_thread(checkpoint.write)

    async def reap(self) -> None:
        """No process outlives the run: close their stdin (they stop), wait, kill what still runs."""
        running = [c.process for c in self.children if c.process is not None and c.process.returncode is None]
        for process in running:
            if process.stdin is not None:
                process.stdin.close()
        limit = self.config.delivery.shutdown_timeout + GRACE_SECONDS
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), limit)
            except TimeoutError:
                process.kill()
                await process.wait()
            limit = 1.0

    async def run(self, specs: Sequence[Spec], controls: Controls, total: int | None) -> None:
        with controls(self.stop, self.stop) as received:
            progress = Progress(self.ledger, total, enabled=self.config.observe.progress)
            async with progress:
                saver = asyncio.create_task(self.save_checkpoints(), name="pump-checkpoint")
                try:
                    async with asyncio.TaskGroup() as tg:
                        for child, spec in zip(self.children, specs, strict=True):
                            tg.create_task(self.watch(child, spec), name=f"pump-{child.name}")
                finally:
                    await self.reap()
                    saver.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await saver
                    await self._write()
        self.ledger.finished = self.ledger.started + wire.longest([c.state for c in self.children if c.state])
        if len(received.received) >= 2:
            raise Interrupted(received.received[1])

    def report(self) -> Report:
        done = [c.done.report for c in self.children if c.done is not None]
        failures = [c.failed for c in self.children if c.failed is not None]
        deaths = [c.died for c in self.children if c.died]
        if not done:  # none ran (they could not connect, say): as one process, the error is the outcome
            raise failures[0] if failures else PumpError(deaths[0] if deaths else "no process of the replay finished")
        errors = [PumpError(r.error) for r in done if r.error] + failures + [PumpError(d) for d in deaths]
        signum = self.stopping[0] if self.stopping else None
        ending = Ending(
            error=errors[0] if errors else None,
            aborted=next((r.aborted for r in done if r.aborted), None),
            interrupted=signum if not deaths and not failures else None,
        )
        warnings = list(dict.fromkeys(w for r in done for w in r.warnings))
        if self.metrics is not None:
            self.metrics.finish()
        delivered = _Delivered(done[0].partitions, done[0].idempotent, warnings)
        exactly = _exactly_once(self.config, [r.exactly_once for r in done if r.exactly_once is not None])
        return build_report(self.config, self.ledger, delivered, ending, done[0].pacing, None, exactly)  # paced alike


def _exactly_once(config: ReplayConfig, parts: list[ExactlyOnce]) -> ExactlyOnce | None:
    """The processes' transactions as the job's (``--exactly-once``: each process commits its own, under its key)."""
    if not parts:
        return None
    return ExactlyOnce(str(config.transactions.transactional_id), parts[0].positions_topic, sum(p.committed for p in parts),
                       sum(p.aborted for p in parts), any(p.resumed for p in parts),
                       any(p.restarted for p in parts))  # fmt: skip


def _loop_name() -> str:
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


async def replay_in_processes(
    config: ReplayConfig,
    sources: Sequence[Source],
    checkpoint: Checkpoint | None,
    resume: Sequence[dict[str, Position]],
    metrics: Metrics | None,
    controls: Controls,
) -> Report:
    """The replay of ``config`` in ``len(resume)`` processes (``resume``: where each one's inputs start)."""
    count = len(resume)
    run = _Run(config, count, checkpoint, metrics)
    total = None if any(s.size is None for s in sources) else sum(s.size or 0 for s in sources)
    if metrics is not None:
        queue = (config.input.queue_size * count, lambda: sum(c.queued for c in run.children))
        metrics.begin(total, queue, (in_flight_limit(config.delivery), lambda: run.ledger.in_flight), config.delivery.rate)
    settings, delivery = config.input, config.delivery
    child_config = msgspec.structs.replace(
        config,
        input=msgspec.structs.replace(settings, processes=1, decode_processes=settings.decode_processes or 0),
        delivery=msgspec.structs.replace(delivery, max_in_flight=-(-delivery.max_in_flight // count)),  # the run's bound
        observe=msgspec.structs.replace(config.observe, progress=False, metrics_addr=None, pushgateway=None, report_json=None),
    )
    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    watched = metrics is not None
    specs = [Spec(child_config, (j, count), dict(resume[j]), _loop_name(), verbose, watched) for j in range(count)]
    await run.run(specs, controls, total)
    return run.report()
