"""source -> bounded queue -> workers -> send mode, with accounting and shutdown.

The reader task puts chunks on a bounded ``asyncio.Queue`` (it waits when the
queue is full: that is the backpressure on input). Worker coroutines decode
chunks; a ``Sequencer`` hands decoded chunks to the send mode strictly in
input order, so per-key order holds with any number of workers. The send mode
bounds records in flight. A reader failure (say a truncated gzip) stops input
but lets everything read before it be delivered; the failure is then reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import msgspec
from prometheus_client import CollectorRegistry

from pump.broker import embedded_broker
from pump.checkpoint import Checkpoint
from pump.completion import Completion, Position
from pump.config import EMBEDDED, ReplayConfig
from pump.deadletter import DeadLetters, FileDeadLetters, TopicDeadLetters
from pump.decode import CsvDecoder, JsonLinesDecoder, Record
from pump.errors import Interrupted, PumpError
from pump.exporter import Exporter
from pump.flow import Sequencer
from pump.kafka import Cluster
from pump.ledger import Ledger
from pump.metrics import Metrics
from pump.modes import ByPartition, SendMode, make_mode
from pump.offload import DecodePool
from pump.outcomes import Outcomes
from pump.partition import Partitioner, group_keyed
from pump.progress import Progress
from pump.report import Report, build_report
from pump.schemas import load_schema
from pump.source import Chunk, InputFile, check_inputs, format_by_name, read_chunks

_DONE = None


class _TooManyErrors(Exception):
    pass


@dataclass
class _Stop:
    """Why input stopped early, if it did."""

    error: PumpError | None = None
    aborted: str | None = None


def group_by_partition(records: list[Record], partitioner: Partitioner, grouped: ByPartition | None = None) -> ByPartition:
    """Assign partitions, keeping input order within each; a chunk's unkeyed records share one sticky partition."""
    keyed, unkeyed = group_keyed(records, partitioner)
    if grouped is None:
        grouped = keyed
    else:
        for part, recs in keyed.items():
            grouped.setdefault(part, []).extend(recs)
    if unkeyed:
        grouped.setdefault(partitioner.sticky(), []).extend(unkeyed)
    return grouped


AUTO_OFFLOAD_BYTES = 32 << 20


def decode_processes_for(config: ReplayConfig, files: list[InputFile]) -> int:
    """Decoding processes: as asked, or by default 2 for big CSV input on a multi-core machine.

    CSV rows cost several microseconds each to parse and type, so a second core
    pays for the pickling; JSON lines are validated faster than they could be
    shipped to another process, so they stay inline.
    """
    if config.decode_processes is not None:
        return config.decode_processes
    cores = os.cpu_count() or 1
    csv = config.format == "csv" or (config.format == "auto" and any(format_by_name(f.path) == "csv" for f in files))
    big = sum(f.size or 0 for f in files) >= AUTO_OFFLOAD_BYTES or any(f.size is None for f in files)
    return min(2, cores) if csv and big and cores > 1 else 0


class Pipeline:
    def __init__(
        self, config: ReplayConfig, files: list[InputFile], schema: type[msgspec.Struct] | None, outcomes: Outcomes
    ) -> None:
        self.config = config
        self.files = files
        self.outcomes = outcomes
        self.ledger = outcomes.ledger
        self.completion = outcomes.completion
        self.resume: dict[str, Position] = {}
        self.interrupted: int | None = None
        self._interrupt = asyncio.Event()
        self.decoders = {"csv": CsvDecoder(schema, config.key_field), "jsonl": JsonLinesDecoder(schema, config.key_field)}
        self.queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=config.queue_size)
        self.sequencer = Sequencer()
        self.stop = _Stop()
        self._stopping = False
        processes = decode_processes_for(config, files)
        self.workers = max(config.workers, processes + 2)  # enough chunks in hand to keep the processes busy
        self.pool = DecodePool(processes, config.schema, config.key_field) if processes else None

    async def run(self, cluster: Cluster) -> SendMode:
        cfg = self.config
        mode = make_mode(cfg.mode, cluster, self.outcomes, cfg.max_in_flight, cfg.linger, cfg.max_message_bytes)
        if self.ledger.metrics is not None:
            self.ledger.metrics.watch_in_flight(mode.inflight.limit, lambda: mode.inflight.used)
        partitioner = Partitioner(cluster.partitions)
        reader = asyncio.create_task(self._read(), name="pump-reader")
        work = asyncio.create_task(self._workers(mode, partitioner), name="pump-workers")
        interrupt = asyncio.create_task(self._interrupt.wait(), name="pump-interrupt")
        try:
            await asyncio.wait({work, interrupt}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                work.result()  # re-raise what stopped the workers
            else:  # a signal: stop taking chunks; what was sent is finished below
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        finally:
            interrupt.cancel()
            await self._stop_reader(reader)
            if self.pool is not None:
                self.pool.close()
        if self.interrupted is None:
            await mode.close()
        else:
            try:
                await asyncio.wait_for(mode.close(), cfg.shutdown_timeout)
            except TimeoutError:
                self.stop.aborted = f"in-flight records still unsettled after --shutdown-timeout {cfg.shutdown_timeout:g}s"
        await self.outcomes.drain()
        return mode

    def interrupt(self, signum: int) -> None:
        """First SIGINT/SIGTERM: stop reading, finish what is in flight, then report and checkpoint."""
        self.interrupted = signum
        self._interrupt.set()

    async def _workers(self, mode: SendMode, partitioner: Partitioner) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(self.workers):
                    tg.create_task(self._work(mode, partitioner), name=f"pump-worker-{i}")
        except* _TooManyErrors:
            self.stop.aborted = f"stopped after more than {self.config.max_errors} invalid lines (--max-errors)"
        except* PumpError as group:  # a worker met a user mistake (e.g. a CSV header the schema does not fit)
            raise group.exceptions[0] from None

    async def _stop_reader(self, reader: asyncio.Task[None]) -> None:
        """Stop input without cancelling the reader mid file-operation (that would leak its file).

        The reader checks ``_stopping`` around every ``put``; emptying the queue once
        frees a ``put`` it may be blocked in, after which it closes its file and returns.
        """
        self._stopping = True
        while not self.queue.empty():
            self.queue.get_nowait()
        await reader

    async def _read(self) -> None:
        seq = 0
        try:
            for f in self.files:
                self.ledger.file_opened()
                start = self.resume.get(f.path, Position(0, 1))
                if start.offset or start.done:
                    self.completion.resume(f.path, start)
                if start.done:
                    continue
                chunks_of = read_chunks(f.path, self.config.format, self.config.chunk_bytes, start.offset, start.line)
                # aclosing: a cancelled reader still closes its file, not the garbage collector
                async with contextlib.aclosing(chunks_of) as chunks:
                    async for chunk in chunks:
                        if self._stopping:
                            return
                        chunk.seq = seq
                        seq += 1
                        self.ledger.chunk_read(chunk)
                        self.completion.read(chunk)
                        if self.queue.full():
                            waited = time.perf_counter()
                            await self.queue.put(chunk)
                            self.ledger.blocked("queue", time.perf_counter() - waited)
                        else:
                            self.queue.put_nowait(chunk)
                        if self._stopping:
                            return
                self.completion.file_done(f.path)
        except PumpError as exc:
            self.stop.error = exc
        finally:
            for _ in range(self.workers):
                if self._stopping:
                    break
                await self.queue.put(_DONE)

    async def _work(self, mode: SendMode, partitioner: Partitioner) -> None:
        max_errors = self.config.max_errors
        while (chunk := await self.queue.get()) is not _DONE:
            grouped: ByPartition | None = None
            if self.pool is not None:  # keyed records come back already grouped by partition
                result, grouped = await self.pool.decode(chunk, partitioner.num_partitions)
            else:
                result = self.decoders[chunk.format].decode(chunk)
            await self.sequencer.turn(chunk.seq)
            try:
                await self.outcomes.decoded(result)
                if result.records or grouped:  # valid lines already read are delivered even when we then stop
                    await mode.send(group_by_partition(result.records, partitioner, grouped), chunk)
                if max_errors is not None and self.ledger.invalid > max_errors:
                    raise _TooManyErrors
            finally:
                self.sequencer.done(chunk.seq)


@contextlib.asynccontextmanager
async def _bootstrap(config: ReplayConfig) -> AsyncIterator[tuple[str, ReplayConfig]]:
    if config.bootstrap_servers != EMBEDDED:
        yield config.bootstrap_servers, config
        return
    async with embedded_broker() as broker:
        yield broker.bootstrap, msgspec.structs.replace(config, create_topic=True)


def _save(checkpoint: Checkpoint, outcomes: Outcomes) -> None:
    if outcomes.dead_letters is not None:
        outcomes.dead_letters.sync()  # a dead letter must be durable before the checkpoint counts it
    checkpoint.save(outcomes.completion.positions)


@contextlib.asynccontextmanager
async def _checkpointing(checkpoint: Checkpoint | None, outcomes: Outcomes, config: ReplayConfig) -> AsyncIterator[None]:
    """Writes the checkpoint every ``checkpoint_interval`` seconds and once more on the way out, whatever happened."""
    if checkpoint is None:
        yield
        return

    async def every() -> None:
        while True:
            await asyncio.sleep(config.checkpoint_interval)
            _save(checkpoint, outcomes)

    task = asyncio.create_task(every(), name="pump-checkpoint")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        _save(checkpoint, outcomes)


class _Signals:
    """SIGINT/SIGTERM while a replay runs: the first stops it cleanly, a second aborts at once."""

    def __init__(self, pipeline: Pipeline, cluster: Cluster, enabled: bool) -> None:
        self.pipeline = pipeline
        self.cluster = cluster
        self.enabled = enabled
        self.aborted_by: int | None = None
        self._task = asyncio.current_task()

    def _on_signal(self, signum: int) -> None:
        if self.pipeline.interrupted is None:
            self.cluster.stop_timeout = self.pipeline.config.shutdown_timeout
            self.pipeline.interrupt(signum)
        elif self.aborted_by is None and self._task is not None:
            self.aborted_by = signum
            self.cluster.stop_timeout = 1.0
            self._task.cancel()

    def __enter__(self) -> _Signals:
        if self.enabled:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def replay(
    config: ReplayConfig,
    ledger: Ledger | None = None,
    registry: CollectorRegistry | None = None,
    on_report: Callable[[Report], None] | None = None,
    handle_signals: bool = False,
) -> Report:
    """Replay ``config.paths`` into ``config.topic``. Raises ``PumpError`` for set-up problems.

    Metrics are kept only when asked for: served at ``config.metrics_addr``,
    pushed to ``config.pushgateway``, or collected into ``registry``.
    ``on_report`` sees the report before the metrics linger. With ``handle_signals``
    (the CLI's choice), SIGINT/SIGTERM stop the run cleanly, and a second one aborts it
    with ``Interrupted``; the checkpoint is written either way.
    """
    files = check_inputs(config.paths)
    schema = load_schema(config.schema) if config.schema else None
    if registry is None and (config.metrics_addr or config.pushgateway):
        registry = CollectorRegistry()
    metrics = Metrics(registry, config.topic, config.mode, config.request_timeout) if registry is not None else None
    ledger = ledger or Ledger(max_invalid_shown=config.max_invalid_shown)
    ledger.metrics = metrics
    dead_letters: DeadLetters | None = None
    if config.dead_letter and not config.dead_letter.startswith("topic:"):
        dead_letters = FileDeadLetters(config.dead_letter)
    outcomes = Outcomes(ledger, Completion(), dead_letters)
    pipeline = Pipeline(config, files, schema, outcomes)
    checkpoint = Checkpoint(config.checkpoint, config.topic, config.restart) if config.checkpoint else None
    if checkpoint is not None:
        pipeline.resume = checkpoint.resume_points(files)
    exporter = Exporter(registry, config.metrics_addr, config.pushgateway, config.topic) if registry is not None else None
    total = None if any(f.size is None for f in files) else sum(f.size or 0 for f in files)
    if metrics is not None and exporter is not None:
        metrics.begin(total, config.queue_size, pipeline.queue.qsize)
        exporter.start()
    try:
        async with _bootstrap(config) as (bootstrap, cfg), Cluster(cfg, bootstrap, ledger.retried) as cluster:
            if cfg.dead_letter and cfg.dead_letter.startswith("topic:"):
                dl_topic = cfg.dead_letter.removeprefix("topic:")
                await cluster.ensure_topic(dl_topic, partitions=1)
                outcomes.dead_letters = TopicDeadLetters(dl_topic, cluster.send_to)
            with _Signals(pipeline, cluster, handle_signals) as signals:
                try:
                    async with Progress(ledger, total, enabled=config.progress), _checkpointing(checkpoint, outcomes, config):
                        ledger.started = time.perf_counter()
                        mode = await pipeline.run(cluster)
                except asyncio.CancelledError:
                    if signals.aborted_by is None:
                        raise
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    raise Interrupted(signals.aborted_by) from None
            ledger.finish()
            if metrics is not None:
                metrics.finish()
            report = build_report(
                config, ledger, cluster.partitions, mode, pipeline.stop.error, pipeline.stop.aborted, pipeline.interrupted
            )
        if on_report is not None:
            on_report(report)
        warning = await exporter.finish(config.metrics_linger) if exporter is not None else None
        if warning:
            report = msgspec.structs.replace(report, warnings=[*report.warnings, warning])
        return report
    finally:
        if dead_letters is not None:
            dead_letters.close()
        if exporter is not None:
            exporter.stop()
