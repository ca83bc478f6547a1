"""A run's parts, made in the order data needs them, each given what it uses when it is made (nothing is patched in
afterwards): the cluster, the dead-letter target, the accounts (with the metrics as their tally), the sink (telling the
accounts of retries), the decode stage for the sink's partition count (with the one fast path chosen for it:
``_framer``), the send mode, the transactions, and the engine that runs them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec

from pump.account import Accounts, Checkpoint, Completion, DeadLetterTarget, FileDeadLetters, Ledger, TopicDeadLetters
from pump.account.accounts import Tally, counting_retries
from pump.config import EMBEDDED, ReplayConfig, config_error
from pump.decode import DecodeStage, InlineDecode, Partitioner
from pump.decode.encoding import EncodeInProcesses
from pump.decode.eventtime import EventTimes, Stamper
from pump.decode.parsed import Framer
from pump.decode.processes import ProcessDecode
from pump.decode.values import AvroValues
from pump.dev.broker import embedded_broker
from pump.engine import Engine, Stages
from pump.input.follow import LiveStats
from pump.observe import Values
from pump.output import Cluster, InFlight, SendMode, Sink, in_flight_limit, make_mode
from pump.output.kafka import KafkaCluster
from pump.output.sink import Transactional
from pump.output.transactions import Transactions
from pump.pace import EventPace, RateLimit, Unpaced
from pump.runner.plan import Plan
from pump.runner.values import subject_of


class Watch(Tally, Protocol):
    """What a run's metrics are to the runner: the accounts' tally, told when the run begins and ends."""

    def begin(
        self,
        input_size: int | None,
        queue: tuple[int, Callable[[], float]],
        in_flight: tuple[int, Callable[[], float]],
        rate: float | None = None,
        live: LiveStats | None = None,
    ) -> None: ...

    def finish(self) -> None: ...

    def transaction(self, outcome: str, seconds: float) -> None: ...


@contextlib.asynccontextmanager
async def kafka(config: ReplayConfig) -> AsyncIterator[KafkaCluster]:
    """The cluster the config names; ``embedded`` starts a throwaway broker for the run (and creates the topic)."""
    async with resolving(config) as resolved:
        yield KafkaCluster(resolved, resolved.producer.bootstrap_servers)


@contextlib.asynccontextmanager
async def resolving(config: ReplayConfig) -> AsyncIterator[ReplayConfig]:
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
class Run:
    engine: Engine
    sink: Sink
    accounts: Accounts
    total_bytes: int | None
    rate: RateLimit | None
    by_time: EventPace | None = None
    transactions: Transactions | None = None
    values: Values | None = None  # --value-format: what the report says of it
    live: LiveStats | None = None  # --follow, --watch: what is seen of the inputs as they grow


async def assemble(
    stack: contextlib.AsyncExitStack,
    config: ReplayConfig,
    plan: Plan,
    cluster: Cluster,
    metrics: Watch | None,
    ledger: Ledger | None = None,
    on_commit: Callable[[], None] = lambda: None,
    sink: Sink | None = None,
) -> Run:
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
    pooled = max(plan.decode_processes, plan.encode_processes)  # each process kept busy, with a chunk waiting for it
    workers = max(config.input.workers, pooled + 2) if pooled else config.input.workers
    total = None if any(s.size is None for s in plan.sources) else sum(s.size or 0 for s in plan.sources)
    live = plan.live.stats if plan.live is not None else None
    if live is not None:
        total = None  # it grows: no ETA
    if metrics is not None:
        metrics.begin(total, (config.input.queue_size, queue.qsize), (limit, lambda: ledger.in_flight), config.delivery.rate,
                      live)  # fmt: skip
    rate, by_time, stamper = _pacing(config, accounts)
    pieces = [n for n in (rate and rate.piece, by_time and EventPace.PIECE_RECORDS) if n]
    transactions = _transactions(config, plan, sink, mode, accounts, dead_letters, metrics, on_commit)
    stages = Stages(plan.sources, plan.resume[0], queue, decode, by_time or Unpaced(), mode, accounts, workers, rate,
                    min(pieces) if pieces else None, stamper, transactions, plan.live)  # fmt: skip
    values = None
    if plan.values is not None:
        values = Values(config.values.value_format, subject_of(config), plan.values.schema_id)
    return Run(Engine(config, stages), sink, accounts, total, rate, by_time, transactions, values, live)


def _transactions(
    config: ReplayConfig,
    plan: Plan,
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
                        on_commit, settle_within=config.delivery.delivery_timeout)  # fmt: skip


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


def _framer(config: ReplayConfig, plan: Plan, sink: Sink, partitioner: Partitioner) -> Framer | None:
    """The fast path, chosen here once: records that decoding has as Arrow arrays (CSV's fast path, Parquet's rows
    the types vouch for) become the sink's record batches on the decoding thread, never Python objects. Only where
    nothing after decoding looks at a record: the batch mode, decoded in this process, unpaced, no ``--time-field``
    (read from each record), no ``--columns``/``--datetime`` rewriting a value, no ``--source-headers``, and every
    partition sent by this run; and where the sink can (``Sink.framer``: no compression, headers or transactions), and values
    sent as JSON (no ``--value-format``)."""
    d = config.delivery
    if d.mode != "batch" or plan.decode_processes or d.rate or d.time_field or d.source_headers or plan.shape:
        return None
    if plan.values is not None:  # --value-format: each value written again
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


def _decode_stage(config: ReplayConfig, plan: Plan, partitioner: Partitioner, framer: Framer | None) -> DecodeStage:
    """Inline, or in processes (which build the same decoders from the same settings; Parquet's rows stay inline)."""
    times = event_times(config)
    values = plan.values if not plan.encode_processes else None  # else written after decoding, in processes
    avro = plan.values.columns if isinstance(plan.values, AvroValues) else None  # Parquet's rows, a column at a time
    stage: DecodeStage = InlineDecode(plan.decoders, partitioner, times, plan.shape, framer, values, avro)
    if plan.decode_processes:
        settings = config.input
        stage = ProcessDecode(stage, plan.decode_processes, settings.schema, settings.key_field, partitioner.num_partitions,
                              plan.by_partition, times, plan.shape, values, settings.key_separator)  # fmt: skip
    if plan.encode_processes:
        assert plan.values is not None
        stage = EncodeInProcesses(stage, plan.values, plan.encode_processes)
    return stage


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
