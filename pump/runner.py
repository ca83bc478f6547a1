"""The one place a replay is built from its config and run: ``await pump.replay(config)``.

Parts are made in the order data needs them, each given what it uses when it is made
(nothing is patched in afterwards): inputs and resume points first (blocking file work,
on a thread), then the cluster, the dead-letter target, the accounts (with the metrics
as their tally), the sink (telling the accounts of retries), the decode stage for the
sink's partition count, the send mode, and the engine that runs them. Everything opened
is closed by one exit stack, in reverse, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

import msgspec
from prometheus_client import CollectorRegistry

from pump.account import Accounts, Checkpoint, Completion, DeadLetterTarget, FileDeadLetters, Ledger, TopicDeadLetters
from pump.config import EMBEDDED, ReplayConfig
from pump.decode import DecodeStage, InlineDecode, Partitioner, build_decoders, decode_processes_for
from pump.decode.parsed import Decoder
from pump.decode.processes import ProcessDecode
from pump.dev.broker import embedded_broker
from pump.engine import Engine, Stages
from pump.errors import Interrupted
from pump.input import FileSource, Position, RecordFormat, open_sources, shard_sources
from pump.input.shards import parse_shard
from pump.observe import Ending, Exporter, Metrics, Progress, Report, build_report
from pump.output import Cluster, InFlight, Sink, in_flight_limit, make_mode
from pump.output.kafka import KafkaCluster
from pump.pace import Unpaced
from pump.schemas import load_schema
from pump.signals import Signals


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
    plan = await asyncio.to_thread(_plan, config)
    if registry is None and (config.observe.metrics_addr or config.observe.pushgateway):
        registry = CollectorRegistry()
    metrics = Metrics(registry, config.topic, config.delivery.mode) if registry is not None else None
    async with contextlib.AsyncExitStack() as outer:
        exporter = await outer.enter_async_context(Exporter(registry, config.observe, config.topic)) if registry else None
        async with contextlib.AsyncExitStack() as stack:
            if cluster is None:
                cluster = await stack.enter_async_context(_kafka(config))
            run = await _assemble(stack, config, plan, cluster, metrics)
            ending = await _execute(config, run, plan.checkpoint, handle_signals)
            run.accounts.finish()
            if metrics is not None:
                metrics.finish()
            report = build_report(config, run.accounts.ledger, run.sink, ending)
            report = await _with_json(report, config)
        if on_report is not None:
            on_report(report)
        warning = await exporter.finish() if exporter is not None else None  # the server lingers here
    return msgspec.structs.replace(report, warnings=[*report.warnings, warning]) if warning else report


@dataclass
class _Plan:
    """What is known before connecting: the inputs, the schema's decoders, where each input resumes."""

    sources: list[FileSource]
    decoders: dict[RecordFormat, Decoder]
    checkpoint: Checkpoint | None
    resume: dict[str, Position]
    processes: int
    by_partition: tuple[int, int] | None  # --shard-by partition: (i, n), send the partitions p % n == i


def _plan(config: ReplayConfig) -> _Plan:
    """Blocking file work (stat, open, fingerprint, import), run on a thread; fails before anything is sent."""
    settings = config.input
    sources = open_sources(settings.paths, settings.format)
    shard, by_partition = None, None
    if settings.shard is not None:
        index, count = parse_shard(settings.shard)
        if settings.shard_by == "partition":
            shard, by_partition = f"{index}/{count} by partition", (index, count)
        else:
            sources, shard = shard_sources(sources, index, count), f"{index}/{count}"
    decoders = build_decoders(load_schema(settings.schema) if settings.schema else None, settings.key_field)
    checkpoint = (
        Checkpoint(config.checkpoint.path, config.topic, config.checkpoint.restart, shard) if config.checkpoint.path else None
    )
    resume = checkpoint.resume_points(sources) if checkpoint is not None else {}
    return _Plan(sources, decoders, checkpoint, resume, decode_processes_for(settings, sources), by_partition)


@contextlib.asynccontextmanager
async def _kafka(config: ReplayConfig) -> AsyncIterator[KafkaCluster]:
    """The cluster the config names; ``embedded`` starts a throwaway broker for the run (and creates the topic)."""
    if config.producer.bootstrap_servers != EMBEDDED:
        yield KafkaCluster(config, config.producer.bootstrap_servers)
        return
    producer = config.producer  # Tansu creates no topic on its own and refuses the idempotent producer
    idempotence = "off" if producer.idempotence == "auto" else producer.idempotence
    create = msgspec.structs.replace(
        config, producer=msgspec.structs.replace(producer, create_topic=True, idempotence=idempotence)
    )
    async with embedded_broker() as broker:
        yield KafkaCluster(create, broker.bootstrap)


@dataclass
class _Run:
    engine: Engine
    sink: Sink
    accounts: Accounts
    total_bytes: int | None


async def _assemble(
    stack: contextlib.AsyncExitStack, config: ReplayConfig, plan: _Plan, cluster: Cluster, metrics: Metrics | None
) -> _Run:
    ledger = Ledger(max_invalid_shown=config.observe.max_invalid_shown)
    dead_letters = await _dead_letters(stack, config, cluster)
    accounts = await stack.enter_async_context(Accounts(ledger, Completion(plan.resume), dead_letters, metrics))
    sink = await stack.enter_async_context(cluster.sink(config.topic, config.producer.partitions, accounts.retried))
    decode = _decode_stage(config, plan, sink.partitions)
    stack.push_async_callback(decode.aclose)
    limit = in_flight_limit(config.delivery)
    inflight = InFlight(limit, partial(accounts.blocked, "in_flight"))
    mode = make_mode(config.delivery, sink, accounts, inflight, config.producer.linger, config.producer.max_message_bytes)
    queue: asyncio.Queue = asyncio.Queue(maxsize=config.input.queue_size)
    workers = max(config.input.workers, plan.processes + 2) if plan.processes else config.input.workers
    total = None if any(s.size is None for s in plan.sources) else sum(s.size or 0 for s in plan.sources)
    if metrics is not None:
        metrics.begin(total, (config.input.queue_size, queue.qsize), (limit, lambda: ledger.in_flight))
    stages = Stages(plan.sources, plan.resume, queue, decode, Unpaced(), mode, accounts, workers)
    return _Run(Engine(config, stages), sink, accounts, total)


def _decode_stage(config: ReplayConfig, plan: _Plan, partitions: int) -> DecodeStage:
    """Inline, or in processes (which build the same decoders from the same settings)."""
    if plan.processes:
        return ProcessDecode(plan.processes, config.input.schema, config.input.key_field, partitions, plan.by_partition)
    return InlineDecode(plan.decoders, Partitioner(partitions, shard=plan.by_partition))


async def _dead_letters(stack: contextlib.AsyncExitStack, config: ReplayConfig, cluster: Cluster) -> DeadLetterTarget | None:
    spec = config.delivery.dead_letter
    if spec is None:
        return None
    if spec.startswith("topic:"):  # a producer of its own, as Kafka Connect's dead-letter reporter has
        return TopicDeadLetters(await stack.enter_async_context(cluster.sink(spec.removeprefix("topic:"), 1)))
    return await FileDeadLetters.open(spec)


async def _execute(config: ReplayConfig, run: _Run, checkpoint: Checkpoint | None, handle_signals: bool) -> Ending:
    """Run the engine with the progress line, the checkpoint writer and the signal handlers around it."""
    task = asyncio.current_task()
    assert task is not None

    def first(signum: int) -> None:
        run.sink.hurry(config.delivery.shutdown_timeout)
        run.engine.interrupt(signum)

    def second(signum: int) -> None:
        run.sink.hurry(1.0)
        task.cancel()

    with Signals(handle_signals, first, second) as signals:
        try:
            progress = Progress(run.accounts.ledger, run.total_bytes, enabled=config.observe.progress)
            async with progress, _checkpointing(checkpoint, run.accounts, config.checkpoint.interval):
                run.accounts.start()
                return await run.engine.run()
        except asyncio.CancelledError:
            if len(signals.received) < 2:
                raise
            task.uncancel()
            raise Interrupted(signals.received[1]) from None


@contextlib.asynccontextmanager
async def _checkpointing(checkpoint: Checkpoint | None, accounts: Accounts, interval: float) -> AsyncIterator[None]:
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


async def _with_json(report: Report, config: ReplayConfig) -> Report:
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
