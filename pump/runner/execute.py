"""A run's execution: the engine with the progress line, the checkpoint writer and the stop controls around it; its report."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

from pump.account import Accounts
from pump.config import ReplayConfig
from pump.errors import Interrupted
from pump.input import Position
from pump.observe import Ending, EventPacing, ExactlyOnce, Pacing, Progress, Report, build_report
from pump.runner.assemble import Run, Watch
from pump.signals import Controls


class Saver(Protocol):
    """Where checkpoint positions go (``Checkpoint``; in a process of ``--processes``, its parent). Called on a thread."""

    def save(self, positions: dict[str, Position]) -> None: ...


def finish(config: ReplayConfig, run: Run, watch: Watch | None, ending: Ending, exactly: ExactlyOnce | None = None) -> Report:
    run.accounts.finish()
    if watch is not None:
        watch.finish()
    pacing = Pacing(*run.rate.summary()) if run.rate is not None else None
    by_time = EventPacing(*run.by_time.summary()) if run.by_time is not None else None
    return build_report(config, run.accounts.ledger, run.sink, ending, pacing, by_time, exactly, run.values)


async def execute(config: ReplayConfig, run: Run, checkpoint: Saver | None, controls: Controls) -> Ending:
    """Run the engine with the progress line, the checkpoint writer and the stop controls (signals) around it."""
    task = asyncio.current_task()
    assert task is not None

    def first(signum: int) -> None:
        run.sink.hurry(config.delivery.shutdown_timeout)
        run.engine.interrupt(signum)

    def second(signum: int) -> None:
        run.sink.hurry(1.0)
        task.cancel()

    with controls(first, second) as signals:
        try:
            progress = Progress(run.accounts.ledger, run.total_bytes, enabled=config.observe.progress, live=run.live)
            async with progress, _checkpointing(checkpoint, run.accounts, config.checkpoint.interval):
                run.accounts.start()
                return await run.engine.run()
        except asyncio.CancelledError:
            if len(signals.received) < 2:
                raise
            task.uncancel()
            raise Interrupted(signals.received[1]) from None


@contextlib.asynccontextmanager
async def _checkpointing(checkpoint: Saver | None, accounts: Accounts, interval: float) -> AsyncIterator[None]:
    """Writes the checkpoint every ``interval`` seconds and once more on the way out, whatever happened.

    A write is never cancelled halfway (the periodic writer is asked to stop, then awaited),
    and runs on a thread: fsync and rename do not block the event loop.
    """
    if checkpoint is None:
        yield
        return
    stop = asyncio.Event()

    async def save() -> None:
        positions = await accounts.handled()
        if positions is not None:  # else dead letters it would count on are not durable: keep the last one
            await asyncio.to_thread(checkpoint.save, positions)

    async def every() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await save()

    task = asyncio.create_task(every(), name="pump-checkpoint")
    try:
        yield
    finally:
        stop.set()
        await task
        await save()


async def with_json(report: Report, config: ReplayConfig) -> Report:
    """Writes the report as JSON where asked (on a thread); a failure becomes a warning in the report."""
    path = config.observe.report_json
    if path is None:
        return report
    try:
        await asyncio.to_thread(_write, path, report.to_json())
    except OSError as exc:
        return msgspec.structs.replace(
            report, warnings=[*report.warnings, f"report not written to {path}: {exc.strerror or exc}"]
        )
    return report


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
