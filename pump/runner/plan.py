"""What is known of a replay before it connects: its inputs, decoders, shards and processes, and where each resumes."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

from pump.account import Checkpoint
from pump.account.checkpoint import State
from pump.config import ReplayConfig, verbatim
from pump.decode import build_decoders, decode_processes_for
from pump.decode.encoding import encode_processes_for
from pump.decode.shape import Shape
from pump.decode.stage import Decoders
from pump.decode.values import ValueEncoder
from pump.input import Position, Source, open_sources, shard_sources
from pump.input.listing import Listing
from pump.input.live import LiveInput, live_input
from pump.input.opening import HEAD_BYTES
from pump.input.shards import parse_shard
from pump.input.source import FileId
from pump.runner.values import value_encoder
from pump.schemas import load_schema


def process_count(config: ReplayConfig) -> int:
    """``--processes``: as given, or ``auto``: the cores this process may run on."""
    asked = config.input.processes
    return len(os.sched_getaffinity(0)) if asked == "auto" else asked


@dataclass
class Committed:
    """What the positions topic holds for a member: its last committed positions, and the job's members laid out
    otherwise (refused, or with ``--restart`` deleted by the first commit)."""

    state: State | None = None
    stale: list[str] = dataclasses.field(default_factory=list)


@dataclass
class Plan:
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
    values: ValueEncoder | None = None  # --value-format avro|json-schema: the values in a registry's wire format
    encode_processes: int = 0  # processes writing the values (``decode.encoding``)
    live: LiveInput | None = None  # --follow, --watch: the inputs as they grow and appear (``sources``: those there now)


def plan_of(
    config: ReplayConfig,
    part: tuple[int, int] | None = None,
    resume: dict[str, Position] | None = None,
    committed: Committed | None = None,
) -> Plan:
    """Blocking file work (stat, open, fingerprint, import), run on a thread; fails before anything is sent.

    ``part`` ``(j, count)``: this is process j of a replay in ``count`` processes, resuming from ``resume``.
    ``committed``: ``--exactly-once``'s last committed positions (of this member), where it resumes.
    """
    settings = config.input
    processes = 1 if part is not None else process_count(config)
    live = live_input(settings) if settings.live else None
    if live is not None:
        sources = open_sources(tuple(live.check()), settings.format, settings.column_list, settings.field_delimiter)
    else:
        sources = open_sources(settings.paths, settings.format, settings.column_list, settings.field_delimiter,
                               Listing.of(settings))  # fmt: skip
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
    decoders = build_decoders(schema, settings.key_field, settings.datetime, settings.key_separator)
    shape = Shape(settings.column_list, settings.datetime, schema)
    checkpoint = positions = None
    if config.checkpoint.path and part is None:
        checkpoint = Checkpoint(config.checkpoint.path, config.topic, config.checkpoint.restart, shard, processes)
    if config.transactions.exactly_once:
        positions = _positions(config, shard, processes, committed.state if committed else None)
        points = [{}] if live is not None else positions.resume_parts(sources)
    elif part is not None:
        points = [resume or {}]
    else:
        points = checkpoint.resume_parts(sources) if checkpoint is not None and live is None else [{} for _ in range(processes)]
    if live is not None:  # each file's positions are found by its identity when it is begun
        live.previous = _followed(positions or checkpoint)
    decode_processes = 0 if live is not None else decode_processes_for(settings, sources)
    values = value_encoder(config, sources, schema)
    encoders = encode_processes_for(config.values.encode_processes, sources) if values is not None and values.costly else 0
    return Plan(sources, decoders, checkpoint, points, processes, decode_processes, by_partition,
                 shape if shape.needed else None, positions, committed.stale if committed else [], values, encoders,
                 live)  # fmt: skip


def _followed(checkpoint: Checkpoint | None) -> dict[str, Position]:
    """The positions a checkpoint (or the positions topic) has of every file, each with the file it is in."""
    if checkpoint is None:
        return {}
    found = {}
    for key, state in checkpoint.followed().items():
        file = state.file or FileId(dev=0, inode=0, head_bytes=HEAD_BYTES, head_sha256=state.head_sha256)
        found[key] = Position(state.offset, state.line, state.done, file)
    return found


def _positions(config: ReplayConfig, shard: str | None, processes: int, committed: State | None) -> Checkpoint:
    """``--exactly-once``'s positions of this member: checked as a checkpoint's are, and recorded at each commit."""
    member, topic = config.transactions.transactional_id, config.transactions.positions_topic
    where = f"the positions of {verbatim(repr(member))} in {{positions_topic}} {verbatim(repr(topic))}"
    return Checkpoint(None, config.topic, config.checkpoint.restart, shard, processes, loaded=committed, where=where)
