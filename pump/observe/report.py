"""The end-of-run summary: a value object, its text form, its JSON form, and the exit status."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Protocol

import msgspec

from pump.account import Ledger
from pump.config import ReplayConfig
from pump.errors import PumpError


class Latency(msgspec.Struct, frozen=True):
    """Acknowledgement latency in milliseconds, per record (send -> broker ack)."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float = 0.0


class Pacing(msgspec.Struct, frozen=True):
    """``--rate``: the rate asked, how late the reader's pieces went (ms), and how far stalls moved the schedule."""

    rate: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    shifted_s: float


class EventPacing(msgspec.Struct, frozen=True):
    """``--speed``: the speed asked, how late pieces went (ms), how far stalls moved the schedule, records found
    late (earlier than one already replayed: sent at once) and event-time gaps over ``--max-gap`` skipped."""

    speed: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    shifted_s: float
    late: int
    skipped: int


class ExactlyOnce(msgspec.Struct, frozen=True):
    """``--exactly-once``: transactions committed and aborted (their records sent again from the last committed position),
    and where the positions are: ``positions_topic``, under the key ``transactional_id``."""

    transactional_id: str
    positions_topic: str
    committed: int
    aborted: int
    resumed: bool  # the run began at committed positions (not at the inputs' start)
    restarted: bool = False  # committed positions were found and ignored (--restart)


class Values(msgspec.Struct, frozen=True):
    """``--value-format avro|json-schema``: the values' format, and the schema they were written with."""

    format: str
    subject: str
    schema_id: int


class Report(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    mode: str
    partitions: int
    acks: str = "all"
    idempotent: bool = False
    files: int
    lines: int
    bytes_read: int
    records: int
    blank_lines: int
    invalid: int
    invalid_by_reason: dict[str, int]
    invalid_examples: list[str]
    sent: int
    acknowledged: int
    failed: int
    failed_by_reason: dict[str, int]
    dead_lettered: int
    retries: int
    dead_letter_target: str | None
    unsettled: int
    bytes_acknowledged: int
    duration_s: float
    records_per_s: float
    mb_per_s: float
    latency: Latency
    in_flight_blocked_s: float
    pacing: Pacing | None = None
    event_pacing: EventPacing | None = None
    exactly_once: ExactlyOnce | None = None
    values: Values | None = None
    error: str | None = None
    aborted: str | None = None
    interrupted: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    exit_code: int = 0

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n"

    def to_text(self) -> str:
        lat = self.latency
        lines = [
            f"pump replay -> topic {self.topic!r} ({self.partitions} partition{'' if self.partitions == 1 else 's'}),"
            f" mode {self.mode}",
            f"  input     {self.files} file(s), {self.lines:,} lines, {_mb(self.bytes_read)} MB",
            f"  records   {self.records:,} decoded, {self.invalid:,} invalid, {self.blank_lines:,} blank",
            f"  delivery  {self.sent:,} sent, {self.acknowledged:,} acknowledged, {self.failed:,} failed"
            f" (acks={self.acks}{', idempotent' if self.idempotent else ''})",
            f"  speed     {self.records_per_s:,.1f} records/s ({self.mb_per_s:.2f} MB/s) over {self.duration_s:.2f} s",
            f"  latency   {lat.p50_ms:.1f} ms p50, {lat.p95_ms:.1f} ms p95, {lat.p99_ms:.1f} ms p99, {lat.max_ms:.1f} ms max",
        ]
        if self.pacing is not None:
            p = self.pacing
            lines.append(
                f"  paced     at most {p.rate:,g} records/s; " + _lag(p.lag_p50_ms, p.lag_p99_ms, p.lag_max_ms, p.shifted_s)
            )
        if self.event_pacing is not None:
            e = self.event_pacing
            lines.append(
                f"  by time   {e.speed:g}x event time; {e.late:,} records late (sent at once), {e.skipped:,} gaps skipped; "
                + _lag(e.lag_p50_ms, e.lag_p99_ms, e.lag_max_ms, e.shifted_s)
            )
        if self.exactly_once is not None:
            lines.append("  exactly   " + _exactly(self.exactly_once))
        if self.values is not None:
            v = self.values
            lines.append(f"  values    {v.format}, schema id {v.schema_id} of subject {v.subject!r} (Confluent's wire format)")
        if self.invalid_by_reason:
            lines.append("  invalid   " + ", ".join(f"{k}: {v:,}" for k, v in sorted(self.invalid_by_reason.items())))
            lines.extend(f"    {example}" for example in self.invalid_examples)
            if self.invalid > len(self.invalid_examples):
                lines.append(f"    ... and {self.invalid - len(self.invalid_examples):,} more")
        if self.retries:
            lines.append(f"  retries   {self.retries:,} produce retries after retriable broker errors")
        if self.failed_by_reason:
            lines.append("  failed    " + ", ".join(f"{k}: {v:,}" for k, v in sorted(self.failed_by_reason.items())))
            if "timeout" in self.failed_by_reason:
                lines.append("    (a timeout means the outcome is unknown: those records may have been written)")
        if self.dead_lettered:
            lines.append(f"  dead      {self.dead_lettered:,} lines dead-lettered to {self.dead_letter_target}")
        if self.unsettled:
            lines.append(f"  UNSETTLED {self.unsettled:,} records have no outcome")
        if self.interrupted:
            lines.append(f"  stopped   by {self.interrupted}: reading stopped, what was in flight was finished")
        if self.aborted:
            lines.append(f"  aborted   {self.aborted}")
        if self.error:
            lines.append(f"  error     {self.error}")
        lines.extend(f"  warning   {w}" for w in self.warnings)
        lines.append(f"  result    {_verdict(self)}")
        return "\n".join(lines)


def _exactly(e: ExactlyOnce) -> str:
    aborted = f", {e.aborted:,} aborted (their records sent again from the last committed position)" if e.aborted else ""
    where = "resumed at" if e.resumed else "found and ignored (--restart), now kept in" if e.restarted else "kept in"
    return (f"{e.committed:,} transaction{'' if e.committed == 1 else 's'} committed{aborted}; positions {where} topic"
            f" {e.positions_topic!r}, key {e.transactional_id!r}")  # fmt: skip


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def _verdict(r: Report) -> str:
    if r.exit_code == 0:
        return "OK: every line handled (acknowledged or dead-lettered)" if r.dead_lettered else "OK: every record acknowledged"
    if r.interrupted:
        how = "" if r.exactly_once is not None else " and --checkpoint"
        return f"INTERRUPTED by {r.interrupted}: resume with the same command{how} to finish"
    if r.exit_code == 2:
        return "FAILED: the run stopped on an error (everything read before it is accounted above)"
    return "INCOMPLETE: some lines were invalid or not delivered (see above)"


@dataclass(frozen=True)
class Ending:
    """How a run ended, besides its counts: a run-stopping error, an early stop, a signal."""

    error: PumpError | None = None
    aborted: str | None = None  # why input stopped early (--max-errors, --shutdown-timeout)
    interrupted: int | None = None  # the signal that stopped it


def exit_status(ledger: Ledger, ending: Ending) -> int:
    """0 every line handled; 1 some line invalid, failed or unsettled; 2 an error; 128+N stopped by signal N."""
    if ending.interrupted is not None:
        return 128 + ending.interrupted  # 130 for SIGINT, 143 for SIGTERM
    if ending.error is not None:
        return 2
    return 1 if (ledger.unhandled or ledger.unsettled or ending.aborted) else 0


def _lag(p50: float, p99: float, most: float, shifted: float) -> str:
    """How late paced pieces went, and how far stalls moved the schedule (``--rate``, ``--speed``)."""
    moved = f"; the schedule moved on {shifted:.2f} s after stalls" if shifted else ""
    return f"pieces late by {p50:.1f} ms p50, {p99:.1f} ms p99, {most:.1f} ms max{moved}"


class Delivered(Protocol):
    """What the report reads of the sink: ``pump.output.Sink`` is one."""

    partitions: int
    idempotent: bool
    warnings: list[str]


def build_report(
    config: ReplayConfig,
    ledger: Ledger,
    sink: Delivered,
    ending: Ending,
    pacing: Pacing | None = None,
    event_pacing: EventPacing | None = None,
    exactly_once: ExactlyOnce | None = None,
    values: Values | None = None,
) -> Report:
    duration = max(ledger.duration, 1e-9)
    h = ledger.latency
    return Report(
        topic=config.topic,
        mode=config.delivery.mode,
        partitions=sink.partitions,
        acks=config.producer.acks,
        idempotent=sink.idempotent,
        files=ledger.files,
        lines=ledger.lines,
        bytes_read=ledger.bytes_read,
        records=ledger.records,
        blank_lines=ledger.blank,
        invalid=ledger.invalid,
        invalid_by_reason=dict(ledger.invalid_by_reason),
        invalid_examples=[str(i) for i in ledger.invalid_examples],
        sent=ledger.sent,
        acknowledged=ledger.acked,
        failed=ledger.failed,
        failed_by_reason=dict(ledger.failed_by_reason),
        dead_lettered=ledger.dead_lettered,
        retries=ledger.retries,
        dead_letter_target=config.delivery.dead_letter,
        unsettled=ledger.unsettled,
        bytes_acknowledged=ledger.bytes_acked,
        duration_s=round(duration, 4),
        records_per_s=round(ledger.acked / duration, 1),
        mb_per_s=round(ledger.bytes_acked / duration / 1e6, 3),
        latency=Latency(
            *(round(h.quantile(q) * 1000, 3) for q in (0.5, 0.95, 0.99)), round(h.max * 1000, 3), round(h.mean() * 1000, 3)
        ),
        in_flight_blocked_s=round(ledger.blocked_seconds["in_flight"], 4),
        pacing=pacing,
        event_pacing=event_pacing,
        exactly_once=exactly_once,
        values=values,
        error=str(ending.error) if ending.error else None,
        aborted=ending.aborted,
        interrupted=signal.Signals(ending.interrupted).name if ending.interrupted is not None else None,
        warnings=list(sink.warnings),
        exit_code=exit_status(ledger, ending),
    )
