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
import copy
import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec
from prometheus_client import CollectorRegistry

from pump.account import Accounts, Checkpoint, Completion, DeadLetterTarget, FileDeadLetters, Ledger, TopicDeadLetters
from pump.account.accounts import Tally, counting_retries
from pump.account.checkpoint import State
from pump.account.positions import job_of, laid_out_otherwise, member_of
from pump.config import EMBEDDED, ReplayConfig, config_error, verbatim
from pump.decode import DecodeStage, InlineDecode, Partitioner, build_decoders, decode_processes_for
from pump.decode.eventtime import EventTimes, Stamper
from pump.decode.parsed import Framer
from pump.decode.processes import ProcessDecode
from pump.decode.shape import Shape
from pump.decode.stage import Decoders
from pump.dev.broker import embedded_broker
from pump.engine import Engine, Stages
from pump.errors import Interrupted, TransactionAborted
from pump.input import Position, Source, open_sources, shard_sources
from pump.input.shards import parse_shard
from pump.observe import Ending, EventPacing, ExactlyOnce, Exporter, Metrics, Pacing, Progress, Report, build_report
from pump.output import Cluster, InFlight, SendMode, Sink, in_flight_limit, make_mode
from pump.output.kafka import KafkaCluster
from pump.output.sink import Transactional
from pump.output.transactions import Transactions
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

    def transaction(self, outcome: str, seconds: float) -> None: ...


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
    if config.transactions.exactly_once:  # named once here: each process of the job derives its member's name from it
        named = msgspec.structs.replace(config.transactions, transactional_id=job_of(config))
        config = msgspec.structs.replace(config, transactions=named)
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
        elif config.transactions.exactly_once:
            report = await _exactly_once(config, cluster, metrics, controls)
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
    if config.transactions.exactly_once:  # its positions are its own, in the positions topic
        return await _exactly_once(config, None, watch, controls, part, ledger)
    plan = await asyncio.to_thread(_plan, config, part, resume)
    async with contextlib.AsyncExitStack() as stack:
        cluster = await stack.enter_async_context(_kafka(config))
        run = await _assemble(stack, config, plan, cluster, watch, ledger)
        ending = await _execute(config, run, saver, controls)
        return _finish(config, run, watch, ending)


#: Transactions aborted one after another, none committed between them, before the run gives up (each retried after a
#: pause of this many seconds times its number).
MOST_ABORTS, ABORT_PAUSE = 5, 1.0


def _member(config: ReplayConfig, part: tuple[int, int] | None) -> ReplayConfig:
    """``config`` with this member's transactional id: the job's name (``config``'s), then its shard's and process's."""
    shard = parse_shard(config.input.shard) if config.input.shard is not None else None
    member = member_of(job_of(config), shard, part)
    return msgspec.structs.replace(config, transactions=msgspec.structs.replace(config.transactions, transactional_id=member))


async def _exactly_once(
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
    committed = [copy.deepcopy(ledger)]  # the counts at the last commit

    def keep() -> None:
        committed[0] = copy.deepcopy(ledger)

    tally, said = [0, 0, 0], []  # transactions committed and aborted, aborts in a row; what each abort said
    async with contextlib.AsyncExitStack() as outer:
        if cluster is None:
            cluster = await outer.enter_async_context(_kafka(config))
        while True:
            async with contextlib.AsyncExitStack() as stack:
                sink = await stack.enter_async_context(cluster.sink(config.topic, config.producer.partitions,
                                                                    counting_retries(ledger, metrics)))  # fmt: skip
                found = await _committed(config, job, await cluster.committed(job))  # once a transactional producer is in
                plan = await asyncio.to_thread(_plan, config, part, None, found)
                run = await _assemble(stack, config, plan, cluster, metrics, ledger, keep, sink)
                try:
                    ending = await _execute(config, run, None, controls)
                except TransactionAborted as exc:
                    _count(tally, run, aborted=True)
                    if tally[2] >= MOST_ABORTS:
                        raise
                    said.append(f"{exc}; its records were sent again from the last committed position")
                    _restore(ledger, committed[0])
                    await asyncio.sleep(ABORT_PAUSE * tally[2])
                    continue
                _count(tally, run, aborted=False)
                summary = ExactlyOnce(str(config.transactions.transactional_id), config.transactions.positions_topic,
                                      tally[0], tally[1], found.state is not None and not config.checkpoint.restart)  # fmt: skip
                report = _finish(config, run, metrics, ending, summary)
                return msgspec.structs.replace(report, warnings=[*said, *report.warnings])


@dataclass
class _Committed:
    """What the positions topic holds for a member: its last committed positions, and the job's members laid out
    otherwise (refused, or with ``--restart`` deleted by the first commit)."""

    state: State | None = None
    stale: list[str] = dataclasses.field(default_factory=list)


async def _committed(config: ReplayConfig, job: str, positions: dict[str, bytes]) -> _Committed:
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
        return _Committed(None, stale)
    try:
        return _Committed(msgspec.json.decode(value, type=State), stale)
    except msgspec.DecodeError as exc:
        raise config_error(
            f"the positions of {verbatim(repr(member))} in {{positions_topic}} are not pump's ({verbatim(exc)});"
            " add {restart} to replay from the start"
        ) from None


def _count(tally: list[int], run: _Run, aborted: bool) -> None:
    t = run.transactions
    assert t is not None
    tally[0] += t.committed
    tally[1] += t.aborted
    tally[2] = tally[2] + 1 if aborted else 0


def _restore(ledger: Ledger, committed: Ledger) -> None:
    """The ledger as it was at the last commit: what an aborted transaction counted is counted again when resent."""
    for f in dataclasses.fields(Ledger):
        if f.name not in ("started", "finished"):
            setattr(ledger, f.name, copy.deepcopy(getattr(committed, f.name)))


def _finish(config: ReplayConfig, run: _Run, watch: Watch | None, ending: Ending, exactly: ExactlyOnce | None = None) -> Report:
    run.accounts.finish()
    if watch is not None:
        watch.finish()
    pacing = Pacing(*run.rate.summary()) if run.rate is not None else None
    by_time = EventPacing(*run.by_time.summary()) if run.by_time is not None else None
    return build_report(config, run.accounts.ledger, run.sink, ending, pacing, by_time, exactly)


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
    positions: Checkpoint | None = None  # --exactly-once: this member's committed positions, and what it commits
    stale: list[str] = dataclasses.field(default_factory=list)  # --exactly-once --restart: the job's keys it deletes


def _plan(
    config: ReplayConfig,
    part: tuple[int, int] | None = None,
    resume: dict[str, Position] | None = None,
    committed: _Committed | None = None,
) -> _Plan:
    """Blocking file work (stat, open, fingerprint, import), run on a thread; fails before anything is sent.

    ``part`` ``(j, count)``: this is process j of a replay in ``count`` processes, resuming from ``resume``.
    ``committed``: ``--exactly-once``'s last committed positions (of this member), where it resumes.
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
    checkpoint = positions = None
    if config.checkpoint.path and part is None:
        checkpoint = Checkpoint(config.checkpoint.path, config.topic, config.checkpoint.restart, shard, processes)
    if config.transactions.exactly_once:
        positions = _positions(config, shard, processes, committed.state if committed else None)
        points = positions.resume_parts(sources)
    elif part is not None:
        points = [resume or {}]
    else:
        points = checkpoint.resume_parts(sources) if checkpoint is not None else [{} for _ in range(processes)]
    decode_processes = decode_processes_for(settings, sources)
    return _Plan(sources, decoders, checkpoint, points, processes, decode_processes, by_partition,
                 shape if shape.needed else None, positions, committed.stale if committed else [])  # fmt: skip


def _positions(config: ReplayConfig, shard: str | None, processes: int, committed: State | None) -> Checkpoint:
    """``--exactly-once``'s positions of this member: checked as a checkpoint's are, and recorded at each commit."""
    member, topic = config.transactions.transactional_id, config.transactions.positions_topic
    where = f"the positions of {verbatim(repr(member))} in {{positions_topic}} {verbatim(repr(topic))}"
    return Checkpoint(None, config.topic, config.checkpoint.restart, shard, processes, loaded=committed, where=where)


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
    if config.transactions.exactly_once:
        raise config_error(
            "{exactly_once} needs Kafka's transactions, which the embedded broker (Tansu) does not have: give"
            " {bootstrap_servers} a Kafka cluster"
        )
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
    transactions: Transactions | None = None


async def _assemble(
    stack: contextlib.AsyncExitStack,
    config: ReplayConfig,
    plan: _Plan,
    cluster: Cluster,
    metrics: Watch | None,
    ledger: Ledger | None = None,
    on_commit: Callable[[], None] = lambda: None,
    sink: Sink | None = None,
) -> _Run:
    """The run's parts, in the order data needs them; ``sink``: already open (``--exactly-once`` opens it first)."""
    ledger = ledger if ledger is not None else Ledger(max_invalid_shown=config.observe.max_invalid_shown)
    if sink is None:
        retried = counting_retries(ledger, metrics)
        sink = await stack.enter_async_context(cluster.sink(config.topic, config.producer.partitions, retried))
    dead_letters = await _dead_letters(stack, config, cluster, sink, plan.positions)
    accounts = await stack.enter_async_context(Accounts(ledger, Completion(plan.resume[0]), dead_letters, metrics))
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
    transactions = _transactions(config, plan, sink, mode, accounts, dead_letters, metrics, on_commit)
    stages = Stages(plan.sources, plan.resume[0], queue, decode, by_time or Unpaced(), mode, accounts, workers, rate,
                    min(pieces) if pieces else None, stamper, transactions)  # fmt: skip
    return _Run(Engine(config, stages), sink, accounts, total, rate, by_time, transactions)


def _transactions(
    config: ReplayConfig,
    plan: _Plan,
    sink: Sink,
    mode: SendMode,
    accounts: Accounts,
    dead_letters: DeadLetterTarget | None,
    metrics: Watch | None,
    on_commit: Callable[[], None],
) -> Transactions | None:
    """``--exactly-once``: the run's chunks in transactions, committed with this member's positions."""
    if plan.positions is None:
        return None
    assert isinstance(sink, Transactional)
    settings = config.transactions
    size = dead_letters.size if isinstance(dead_letters, FileDeadLetters) else lambda: None
    assert settings.transactional_id is not None
    return Transactions(sink, mode, accounts, plan.positions, settings.transactional_id.encode(), settings.transaction_interval,
                        settings.transaction_records, [k.encode() for k in plan.stale], size, metrics,
                        on_commit)  # fmt: skip


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


async def _dead_letters(
    stack: contextlib.AsyncExitStack, config: ReplayConfig, cluster: Cluster, sink: Sink, positions: Checkpoint | None
) -> DeadLetterTarget | None:
    """Where dead letters go. A topic: through a producer of its own, as Kafka Connect's dead-letter reporter has one;
    with ``--exactly-once``, through the sink's, in its transactions. A file: with ``--exactly-once``, cut back to its
    size at the committed positions (what came after belongs to lines read again)."""
    spec = config.delivery.dead_letter
    if spec is None:
        return None
    if spec.startswith("topic:"):
        topic = spec.removeprefix("topic:")
        if positions is not None:
            assert isinstance(sink, Transactional)
            return TopicDeadLetters(await sink.beside(topic))
        return TopicDeadLetters(await stack.enter_async_context(cluster.sink(topic, 1)))
    committed = positions.loaded.dead_letter_bytes if positions is not None and positions.loaded is not None else None
    return await FileDeadLetters.open(spec, committed)


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
