"""Every Prometheus metric pump exposes, defined once, on an injected registry.

Names follow Prometheus practice: ``pump_`` prefix, base units (seconds, bytes),
``_total`` counters, and bounded labels only: ``topic``, ``mode``, ``format``,
``stage`` and ``reason`` from the fixed sets in ``pump.records``; never a key, a path
or a line number. Labelled counters are pre-set to 0 so error panels show 0 rather
than nothing. ``Metrics`` is the accounts' ``Tally``: fed per chunk or per batch;
queue depth and records in flight are read only when Prometheus scrapes.

The families are made once per registry, so several replays can share one (each
with its own topic/mode children); on prometheus_client's default registry, which
already has them, the process and platform collectors are not registered again.
"""

from __future__ import annotations

import collections
import platform
import time
import weakref
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector

from pump._version import __version__
from pump.input.follow import LiveStats
from pump.records import DEAD_LETTER_REASONS, FAILURE_REASONS, INVALID_REASONS

FORMATS = ("csv", "jsonl", "lines", "parquet")
STAGES = ("queue", "in_flight")
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536)
PACING_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]] = weakref.WeakKeyDictionary()


def _families(registry: CollectorRegistry) -> dict[str, Any]:
    """The metric families on ``registry``, made on first use."""
    found = _by_registry.get(registry)
    if found is not None:
        return found
    if registry is not REGISTRY:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    made: dict[str, Any] = {}

    def add(kind: type, name: str, doc: str, labels: tuple[str, ...], **kw: Any) -> None:
        made[name] = kind(name, doc, ["topic", *labels], registry=registry, **kw)

    info = Gauge("pump_build_info", "pump's version; always 1.", ["version", "python"], registry=registry)
    info.labels(version=__version__, python=platform.python_version()).set(1)
    for name, doc, labels in _COUNTERS:
        add(Counter, name, doc, labels)
    for name, doc, labels in _GAUGES + _LIVE_GAUGES:
        add(Gauge, name, doc, labels)
    add(Histogram, "pump_batch_records", "Records per send (a batch in batch mode, else 1).", ("mode",), buckets=BATCH_BUCKETS)
    add(Histogram, "pump_ack_latency_seconds", "Send to broker acknowledgement: per batch in batch mode, per record otherwise.",
        ("mode",), buckets=LATENCY_BUCKETS)  # fmt: skip
    add(Histogram, "pump_pacing_lag_seconds", "With --rate or --speed: how late each paced piece of records went (0: on time).",
        (), buckets=PACING_BUCKETS)  # fmt: skip
    add(Histogram, "pump_transaction_duration_seconds", "With --exactly-once: from a transaction's start to its commit or abort.",
        (), buckets=LATENCY_BUCKETS)  # fmt: skip
    _by_registry[registry] = made
    return made


_COUNTERS = (
    ("pump_input_lines", "Input lines read.", ("format",)),
    ("pump_input_read_bytes", "Input bytes read from disk (compressed if the file is).", ()),
    ("pump_records_decoded", "Records decoded from input.", ("format",)),
    ("pump_invalid_lines", "Input lines that are not valid records, by reason.", ("reason",)),
    ("pump_backpressure_seconds", "Time spent waiting on a full queue or the in-flight bound.", ("stage",)),
    ("pump_records_sent", "Records handed to the producer.", ("mode",)),
    ("pump_records_acknowledged", "Records acknowledged by the broker.", ("mode",)),
    ("pump_acknowledged_bytes", "Value bytes acknowledged by the broker.", ("mode",)),
    ("pump_records_failed", "Records that failed to deliver, by reason.", ("mode", "reason")),
    ("pump_timeouts", "Sends that timed out: outcome unknown, they may have been written.", ("mode",)),
    ("pump_retries", "Produce retries after retriable broker errors (as aiokafka logs them).", ("mode",)),
    ("pump_dead_letters", "Lines written to the dead-letter target, by reason (a decode reason, or delivery).", ("reason",)),
    ("pump_pacing_late_records", "--speed: records whose event time was earlier than one already replayed (sent at once).", ()),
    ("pump_pacing_skipped_gaps", "--speed: jumps in event time larger than --max-gap, not waited for.", ()),
    ("pump_transactions", "--exactly-once: transactions ended, by outcome (committed, aborted).", ("outcome",)),
)
TRANSACTION_OUTCOMES = ("committed", "aborted")
_GAUGES = (
    ("pump_start_time_seconds", "Unix time the replay started.", ()),
    ("pump_done", "1 once the replay has finished, else 0.", ("mode",)),
    ("pump_input_size_bytes", "Input bytes on disk for the whole run (NaN if unknown: stdin).", ()),
    ("pump_queue_depth_chunks", "Chunks waiting between reader and workers.", ()),
    ("pump_queue_capacity_chunks", "Bound of the chunk queue.", ()),
    ("pump_in_flight_records", "Records sent, not yet acknowledged.", ("mode",)),
    ("pump_in_flight_limit_records", "Bound on records in flight.", ("mode",)),
    ("pump_rate_limit_records_per_second", "--rate: the most records a second the replay may send (0: no limit).", ()),
)
_LIVE_GAUGES = (
    ("pump_input_behind_bytes", "--follow: bytes of the followed files not read yet (their sizes minus pump's positions).", ()),
    ("pump_input_files_pending", "--watch: files found and not begun yet.", ()),
    ("pump_input_files_finished", "--follow, --watch: files read to their ends (rotated away, deleted, or read once).", ()),
    ("pump_input_truncations", "--follow: followed files found truncated and read again from their start.", ()),
    ("pump_input_idle_seconds", "--follow, --watch: seconds since the last record was read.", ()),
)


class Metrics:
    """One replay's children of the families: labelled with its topic and mode."""

    def __init__(self, registry: CollectorRegistry, topic: str, mode: str) -> None:
        self.registry = registry
        fam = _families(registry)
        t, m = {"topic": topic}, {"topic": topic, "mode": mode}
        self._lines = {f: fam["pump_input_lines"].labels(format=f, **t) for f in FORMATS}
        self._decoded = {f: fam["pump_records_decoded"].labels(format=f, **t) for f in FORMATS}
        self._invalid = {r: fam["pump_invalid_lines"].labels(reason=r, **t) for r in INVALID_REASONS}
        self._bytes_read = fam["pump_input_read_bytes"].labels(**t)
        self._blocked = {s: fam["pump_backpressure_seconds"].labels(stage=s, **t) for s in STAGES}
        self._sent = fam["pump_records_sent"].labels(**m)
        self._acked = fam["pump_records_acknowledged"].labels(**m)
        self._bytes_acked = fam["pump_acknowledged_bytes"].labels(**m)
        self._failed = {r: fam["pump_records_failed"].labels(reason=r, **m) for r in FAILURE_REASONS}
        self._timeouts = fam["pump_timeouts"].labels(**m)
        self._retries = fam["pump_retries"].labels(**m)
        self._dead = {r: fam["pump_dead_letters"].labels(reason=r, **t) for r in DEAD_LETTER_REASONS}
        self._batch_records = fam["pump_batch_records"].labels(**m)
        self._ack_latency = fam["pump_ack_latency_seconds"].labels(**m)
        self._pacing_lag = fam["pump_pacing_lag_seconds"].labels(**t)
        self._late = fam["pump_pacing_late_records"].labels(**t)
        self._skipped = fam["pump_pacing_skipped_gaps"].labels(**t)
        self._transactions = {o: fam["pump_transactions"].labels(outcome=o, **t) for o in TRANSACTION_OUTCOMES}
        self._transaction_seconds = fam["pump_transaction_duration_seconds"].labels(**t)
        self._gauges = {name: fam[name].labels(**(m if labels else t)) for name, _, labels in _GAUGES + _LIVE_GAUGES}

    def begin(
        self,
        input_size: int | None,
        queue: tuple[int, Callable[[], float]],
        in_flight: tuple[int, Callable[[], float]],
        rate: float | None = None,
        live: LiveStats | None = None,
    ) -> None:
        """The run starts: its input size, the queue's and in-flight bound's capacity and level, its --rate, and what
        is seen of followed and watched inputs (``live``), read when Prometheus scrapes."""
        g = self._gauges
        for name in ("pump_input_behind_bytes", "pump_input_files_pending", "pump_input_files_finished",
                     "pump_input_truncations", "pump_input_idle_seconds"):  # fmt: skip
            g[name].set(0)  # a replay of whole files: nothing behind, pending or idle
        if live is not None:
            g["pump_input_behind_bytes"].set_function(live.bytes_behind)
            g["pump_input_files_pending"].set_function(lambda: live.pending)
            g["pump_input_files_finished"].set_function(lambda: live.finished)
            g["pump_input_truncations"].set_function(lambda: live.truncated)
            g["pump_input_idle_seconds"].set_function(lambda: max(time.monotonic() - live.last_read, 0.0))
        g["pump_rate_limit_records_per_second"].set(rate or 0)
        g["pump_start_time_seconds"].set(time.time())
        g["pump_done"].set(0)
        g["pump_input_size_bytes"].set(float("nan") if input_size is None else input_size)
        g["pump_queue_capacity_chunks"].set(queue[0])
        g["pump_queue_depth_chunks"].set_function(queue[1])
        g["pump_in_flight_limit_records"].set(in_flight[0])
        g["pump_in_flight_records"].set_function(in_flight[1])

    def finish(self) -> None:
        self._gauges["pump_done"].set(1)

    # the accounts' Tally

    def read(self, fmt: str, lines: int, raw_bytes: int) -> None:
        self._lines[fmt].inc(lines)
        self._bytes_read.inc(raw_bytes)

    def decoded(self, fmt: str, records: int, invalid: collections.Counter[str]) -> None:
        self._decoded[fmt].inc(records)
        for reason, n in invalid.items():
            self._invalid[reason].inc(n)

    def sent(self, n: int) -> None:
        self._sent.inc(n)
        self._batch_records.observe(n)

    def acked(self, n: int, nbytes: int, latency: float) -> None:
        self._acked.inc(n)
        self._bytes_acked.inc(nbytes)
        self._ack_latency.observe(latency)

    def failed(self, n: int, reason: str) -> None:
        self._failed[reason].inc(n)
        if reason == "timeout":
            self._timeouts.inc(n)

    def dead_lettered(self, n: int, reason: str) -> None:
        self._dead[reason].inc(n)

    def retried(self) -> None:
        self._retries.inc()

    def paced(self, lag: float) -> None:
        self._pacing_lag.observe(lag)

    def paced_by_time(self, late: int, skipped: int) -> None:
        self._late.inc(late)
        self._skipped.inc(skipped)

    def blocked(self, stage: str, seconds: float) -> None:
        self._blocked[stage].inc(seconds)

    def transaction(self, outcome: str, seconds: float) -> None:
        self._transactions[outcome].inc()
        self._transaction_seconds.observe(seconds)
