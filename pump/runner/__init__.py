"""The one place a replay is built from its config and run: ``await pump.replay(config)``.

Blocking file work comes first (``plan``: the inputs and where they resume, on a thread), then the parts in the order
data needs them (``assemble``), then the run (``execute``). Everything opened is closed by one exit stack, in reverse,
whatever happens. ``--exactly-once`` runs in transactions, attempt after attempt (``exactly``).

With ``--processes N`` this process plans, starts N processes (``pump.parallel``) and
merges what they say; each of them runs ``replay_part``: the same assembly, sending its
share of the partitions, with its metrics, checkpoint positions and stop requests going
through its parent instead of its own exporter, file and signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial

import msgspec
from prometheus_client import CollectorRegistry

from pump.account import Ledger
from pump.account.positions import job_of
from pump.config import ReplayConfig, config_error
from pump.input import Position
from pump.observe import Exporter, Metrics, Report
from pump.output import Cluster
from pump.parallel.parent import replay_in_processes
from pump.runner.assemble import Watch, assemble, event_times, kafka, resolving
from pump.runner.exactly import exactly_once
from pump.runner.execute import Saver, execute, finish, with_json
from pump.runner.plan import plan_of, process_count
from pump.signals import Controls, Signals

__all__ = ("Saver", "Watch", "event_times", "process_count", "replay", "replay_part")


async def replay(
    config: ReplayConfig,
    *,
    cluster: Cluster | None = None,
    registry: CollectorRegistry | None = None,
    on_report: Callable[[Report], None] | None = None,
    handle_signals: bool = False,
) -> Report:
    """Replay ``config``'s inputs into its topic and return the report. Raises ``PumpError`` for set-up problems.

    ``cluster``: where sinks come from; by default the Kafka cluster the config names
    (``pump.testing.MemoryCluster`` keeps everything in memory). Metrics are kept when
    asked for: served at ``observe.metrics_addr``, pushed to ``observe.pushgateway``, or
    collected into ``registry`` (several replays may share one). ``on_report`` sees the
    report before the metrics linger. With ``handle_signals`` (the CLI's choice),
    SIGINT/SIGTERM stop the run cleanly and a second one aborts it with ``Interrupted``;
    the checkpoint is written either way.
    """
    if config.transactions.exactly_once:  # named once here: each process of the job derives its member's name from it
        named = msgspec.structs.replace(config.transactions, transactional_id=job_of(config))
        config = msgspec.structs.replace(config, transactions=named)
    plan = await asyncio.to_thread(plan_of, config)
    if plan.processes > 1 and cluster is not None:
        raise config_error("{processes} starts processes of its own: they need a Kafka cluster, not a cluster object")
    if registry is None and (config.observe.metrics_addr or config.observe.pushgateway):
        registry = CollectorRegistry()
    metrics = Metrics(registry, config.topic, config.delivery.mode) if registry is not None else None
    controls = partial(Signals, handle_signals)
    async with contextlib.AsyncExitStack() as outer:
        exporter = await outer.enter_async_context(Exporter(registry, config.observe, config.topic)) if registry else None
        if plan.processes > 1:
            async with resolving(config) as resolved:
                report = await replay_in_processes(resolved, plan.sources, plan.checkpoint, plan.resume, metrics, controls)
        elif config.transactions.exactly_once:
            report = await exactly_once(config, cluster, metrics, controls)
        else:
            async with contextlib.AsyncExitStack() as stack:
                if cluster is None:
                    cluster = await stack.enter_async_context(kafka(config))
                run = await assemble(stack, config, plan, cluster, metrics)
                ending = await execute(config, run, plan.checkpoint, controls)
                report = finish(config, run, metrics, ending)
        report = await with_json(report, config)
        if on_report is not None:
            on_report(report)
        warning = await exporter.finish() if exporter is not None else None  # the server lingers here
    return msgspec.structs.replace(report, warnings=[*report.warnings, warning]) if warning else report


async def replay_part(
    config: ReplayConfig,
    part: tuple[int, int],
    resume: dict[str, Position],
    ledger: Ledger,
    watch: Watch | None,
    saver: Saver,
    controls: Controls,
) -> Report:
    """One process of a replay in ``part[1]`` processes (``pump.cli.child``): it sends the partitions
    ``p % count == index`` (of its shard's, with ``--shard-by partition``), from ``resume``; its counts go to
    ``ledger`` and ``watch``, its checkpoint positions to ``saver``; ``controls`` say when to stop."""
    if config.transactions.exactly_once:  # its positions are its own, in the positions topic
        return await exactly_once(config, None, watch, controls, part, ledger)
    plan = await asyncio.to_thread(plan_of, config, part, resume)
    async with contextlib.AsyncExitStack() as stack:
        cluster = await stack.enter_async_context(kafka(config))
        run = await assemble(stack, config, plan, cluster, watch, ledger)
        ending = await execute(config, run, saver, controls)
        return finish(config, run, watch, ending)
