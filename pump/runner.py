"""The one place a replay is built from its config and run: ``await pump.replay(config)``.

Parts are made in the order data needs them, each given what it uses when it is made
(nothing is patched in afterwards): inputs and resume points first (blocking file work,
on a thread), then the cluster, the dead-letter target, the accounts (with the metrics
as their tally), the sink (telling the accounts of retries), the decode stage for the
sink's partition count (with the one fast path chosen for it: ``_framer``), the send mode, and the
engine that runs them. Everything opened
is closed by one exit stack, in reverse, whatever happens.

With ``--processes N`` this process plans, starts N processes (``pump.parallel``) and
merges what they say; each of them runs ``replay_part``: the same assembly, sending its
share of the partitions, with its metrics, checkpoint positions and stop requests going
through its parent instead of its own exporter, file and signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec
from prometheus_client import CollectorRegistry

from pump.account import Accounts, Checkpoint, Completion, DeadLetterTarget, FileDeadLetters, Ledger, TopicDeadLetters
from pump.account.accounts import Tally
from pump.config import EMBEDDED, ReplayConfig, config_error
from pump.decode import DecodeStage, InlineDecode, Partitioner, build_decoders, decode_processes_for
from pump.decode.eventtime import EventTimes, Stamper
from pump.decode.parsed import Framer
from pump.decode.processes import ProcessDecode
from pump.decode.shape import Shape
from pump.decode.stage import Decoders
from pump.dev.broker import embedded_broker
from pump.engine import Engine, Stages
from pump.errors import Interrupted
from pump.input import Position, Source, open_sources, shard_sources
from pump.input.shards import parse_shard
from pump.observe import Ending, EventPacing, Exporter, Metrics, Pacing, Progress, Report, build_report
from pump.output import Cluster, InFlight, Sink, in_flight_limit, make_mode
from pump.output.kafka import KafkaCluster
from pump.pace import EventPace, RateLimit, Unpaced
from pump.parallel.parent import replay_in_processes
from pump.schemas import load_schema
from pump.signals import Controls, Signals


class Watch(Tally, Protocol):
    """What a run's metrics are to the runner: the accounts' tally, told when the run begins and ends."""

    def begin(
        self,
        input_size: int | None,
        queue: tuple[int, Callable[[], float]],
        in_flight: tuple[int, Callable[[], float]],
        rate: float | None = None,
    ) -> None: ...

    def finish(self) -> None: ...


class Saver(Protocol):
    """Where checkpoint positions go (``Checkpoint``; in a process of ``--processes``, its parent). Called on a thread."""

    def save(self, positions: dict[str, Position]) -> None: ...


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
    if plan.processes > 1 and cluster is not None:
        raise config_error("{processes} starts processes of its own: they need a Kafka cluster, not a cluster object")
    if registry is None and (config.observe.metrics_addr or config.observe.pushgateway):
        registry = CollectorRegistry()
    metrics = Metrics(registry, config.topic, config.delivery.mode) if registry is not None else None
    controls = partial(Signals, handle_signals)
    async with contextlib.AsyncExitStack() as outer:
        exporter = await outer.enter_async_context(Exporter(registry, config.observe, config.topic)) if registry else None
        if plan.processes > 1:
            async with _resolved(config) as resolved:
                report = await replay_in_processes(resolved, plan.sources, plan.checkpoint, plan.resume, metrics, controls)
        else:
            async with contextlib.AsyncExitStack() as stack:
                if cluster is None:
                    cluster = await stack.enter_async_context(_kafka(config))
                run = await _assemble(stack, config, plan, cluster, metrics)
                ending = await _execute(config, run, plan.checkpoint, controls)
                report = _finish(config, run, metrics, ending)
        report = await _with_json(report, config)
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
    plan = await asyncio.to_thread(_plan, config, part, resume)
    async with contextlib.AsyncExitStack() as stack:
        cluster = await stack.enter_async_context(_kafka(config))
        run = await _assemble(stack, config, plan, cluster, watch, ledger)
        ending = await _execute(config, run, saver, controls)
        return _finish(config, run, watch, ending)


def _finish(config: ReplayConfig, run: _Run, watch: Watch | None, ending: Ending) -> Report:
    run.accounts.finish()
    if watch is not None:
        watch.finish()
    pacing = Pacing(*run.rate.summary()) if run.rate is not None else None
    by_time = EventPacing(*run.by_time.summary()) if run.by_time is not None else None
    return build_report(config, run.accounts.ledger, run.sink, ending, pacing, by_time)


def process_count(config: ReplayConfig) -> int:
    """``--processes``: as given, or ``auto``: the cores this process may run on."""
    asked = config.input.processes
    return len(os.sched_getaffinity(0)) if asked == "auto" else asked


@dataclass
class _Plan:
    """What is known before connecting: the inputs, the schema's decoders, where each input (or each process's) resumes."""

    sources: Sequence[Source]
    decoders: Decoders
    checkpoint: Checkpoint | None
    resume: list[dict[str, Position]]  # one per process
    processes: int
    decode_processes: int
    by_partition: tuple[int, int] | None  # (i, n): send the partitions p % n == i (--shard-by partition, --processes)
    shape: Shape | None = None  # --columns, --datetime for CSV and JSON lines


def _plan(config: ReplayConfig, part: tuple[int, int] | None = None, resume: dict[str, Position] | None = None) -> _Plan:
    """Blocking file work (stat, open, fingerprint, import), run on a thread; fails before anything is sent.

    ``part`` ``(j, count)``: this is process j of a replay in ``count`` processes, resuming from ``resume``.
    """
    settings = config.input
    processes = 1 if part is not None else process_count(config)
    sources = open_sources(settings.paths, settings.format, settings.column_list, settings.field_delimiter)
    shard, by_partition = None, None
    if settings.shard is not None:
        index, count = parse_shard(settings.shard)
        if settings.shard_by == "partition":
            shard, by_partition = f"{index}/{count} by partition", (index, count)
        else:
            sources, shard = shard_sources(sources, index, count), f"{index}/{count}"
    if part is not None:  # process j of count sends its share of what the shard sends
        j, count = part
        by_partition = (by_partition[0] + j * by_partition[1], by_partition[1] * count) if by_partition else part
    schema = load_schema(settings.schema) if settings.schema else None
    decoders = build_decoders(schema, settings.key_field, settings.datetime)
    shape = Shape(settings.column_list, settings.datetime, schema)
    checkpoint = None
    if config.checkpoint.path and part is None:
        checkpoint = Checkpoint(config.checkpoint.path, config.topic, config.checkpoint.restart, shard, processes)
    if part is not None:
        points = [resume or {}]
    else:
        points = checkpoint.resume_parts(sources) if checkpoint is not None else [{} for _ in range(processes)]
    decode_processes = decode_processes_for(settings, sources)
    return _Plan(
        sources, decoders, checkpoint, points, processes, decode_processes, by_partition, shape if shape.needed else None
    )


@contextlib.asynccontextmanager
async def _kafka(config: ReplayConfig) -> AsyncIterator[KafkaCluster]:
    """The cluster the config names; ``embedded`` starts a throwaway broker for the run (and creates the topic)."""
    async with _resolved(config) as resolved:
        yield KafkaCluster(resolved, resolved.producer.bootstrap_servers)


@contextlib.asynccontextmanager
async def _resolved(config: ReplayConfig) -> AsyncIterator[ReplayConfig]:
    """The config as it is; for ``embedded``, pointed at a throwaway broker started for the run."""
    if config.producer.bootstrap_servers != EMBEDDED:
        yield config
        return
    producer = config.producer  # Tansu creates no topic on its own and refuses the idempotent producer
    idempotence = "off" if producer.idempotence == "auto" else producer.idempotence
    async with embedded_broker() as broker:
        yield msgspec.structs.replace(
            config,
            producer=msgspec.structs.replace(
                producer, bootstrap_servers=broker.bootstrap, create_topic=True, idempotence=idempotence
            ),
        )


@dataclass
class _Run:
    engine: Engine
    sink: Sink
    accounts: Accounts
    total_bytes: int | None
    rate: RateLimit | None
    by_time: EventPace | None = None


async def _assemble(
    stack: contextlib.AsyncExitStack,
    config: ReplayConfig,
    plan: _Plan,
    cluster: Cluster,
    metrics: Watch | None,
    ledger: Ledger | None = None,
) -> _Run:
    ledger = ledger if ledger is not None else Ledger(max_invalid_shown=config.observe.max_invalid_shown)
    dead_letters = await _dead_letters(stack, config, cluster)
    accounts = await stack.enter_async_context(Accounts(ledger, Completion(plan.resume[0]), dead_letters, metrics))
    sink = await stack.enter_async_context(cluster.sink(config.topic, config.producer.partitions, accounts.retried))
    partitioner = Partitioner(sink.partitions, shard=plan.by_partition)
    decode = _decode_stage(config, plan, partitioner, _framer(config, plan, sink, partitioner))
    stack.push_async_callback(decode.aclose)
    limit = in_flight_limit(config.delivery)
    inflight = InFlight(limit, partial(accounts.blocked, "in_flight"))
    mode = make_mode(config.delivery, sink, accounts, inflight, config.producer.linger, config.producer.max_message_bytes)
    queue: asyncio.Queue = asyncio.Queue(maxsize=config.input.queue_size)
    workers = max(config.input.workers, plan.decode_processes + 2) if plan.decode_processes else config.input.workers
    total = None if any(s.size is None for s in plan.sources) else sum(s.size or 0 for s in plan.sources)
    if metrics is not None:
        metrics.begin(total, (config.input.queue_size, queue.qsize), (limit, lambda: ledger.in_flight), config.delivery.rate)
    rate, by_time, stamper = _pacing(config, accounts)
    pieces = [n for n in (rate and rate.piece, by_time and EventPace.PIECE_RECORDS) if n]
    stages = Stages(plan.sources, plan.resume[0], queue, decode, by_time or Unpaced(), mode, accounts, workers, rate,
                    min(pieces) if pieces else None, stamper)  # fmt: skip
    return _Run(Engine(config, stages), sink, accounts, total, rate, by_time)


def _pacing(config: ReplayConfig, accounts: Accounts) -> tuple[RateLimit | None, EventPace | None, Stamper | None]:
    """``--rate``'s schedule, ``--speed``'s, and ``--record-timestamp``'s stamps, where they are asked for."""
    delivery = config.delivery
    rate = RateLimit(delivery.rate) if delivery.rate else None
    by_time = None
    if delivery.event_paced:
        assert not isinstance(delivery.speed, str)
        by_time = EventPace(delivery.speed, delivery.max_gap, on_lag=accounts.paced, on_counts=accounts.paced_by_time)
    how = delivery.record_timestamp
    return rate, by_time, Stamper(how) if how != "create" else None


def _framer(config: ReplayConfig, plan: _Plan, sink: Sink, partitioner: Partitioner) -> Framer | None:
    """The fast path, chosen here once: records that decoding has as Arrow arrays (CSV's fast path, Parquet's rows
    the types vouch for) become the sink's record batches on the decoding thread, never Python objects. Only where
    nothing after decoding looks at a record: the batch mode, decoded in this process, unpaced, no ``--time-field``
    (read from each record), no ``--columns``/``--datetime`` rewriting a value, no ``--source-headers``, and every
    partition sent by this run; and where the sink can (``Sink.framer``: no compression, headers or transactions)."""
    d = config.delivery
    if d.mode != "batch" or plan.decode_processes or d.rate or d.time_field or d.source_headers or plan.shape:
        return None
    if plan.by_partition is not None:
        return None
    return sink.framer(partitioner, config.producer.max_message_bytes, in_flight_limit(d))


def event_times(config: ReplayConfig) -> EventTimes | None:
    """``--time-field``: read each record's event time while decoding (numbers: as ``--datetime`` wrote them)."""
    field = config.delivery.time_field
    if field is None:
        return None
    return EventTimes(field, 1e-6 if config.input.datetime == "epoch-us" else 1e-3)


def _decode_stage(config: ReplayConfig, plan: _Plan, partitioner: Partitioner, framer: Framer | None) -> DecodeStage:
    """Inline, or in processes (which build the same decoders from the same settings; Parquet's rows stay inline)."""
    times = event_times(config)
    inline = InlineDecode(plan.decoders, partitioner, times, plan.shape, framer)
    if not plan.decode_processes:
        return inline
    settings = config.input
    return ProcessDecode(inline, plan.decode_processes, settings.schema, settings.key_field, partitioner.num_partitions,
                         plan.by_partition, times, plan.shape)  # fmt: skip


async def _dead_letters(stack: contextlib.AsyncExitStack, config: ReplayConfig, cluster: Cluster) -> DeadLetterTarget | None:
    spec = config.delivery.dead_letter
    if spec is None:
        return None
    if spec.startswith("topic:"):  # a producer of its own, as Kafka Connect's dead-letter reporter has
        return TopicDeadLetters(await stack.enter_async_context(cluster.sink(spec.removeprefix("topic:"), 1)))
    return await FileDeadLetters.open(spec)


async def _execute(config: ReplayConfig, run: _Run, checkpoint: Saver | None, controls: Controls) -> Ending:
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
