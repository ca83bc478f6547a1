"""Every Prometheus metric pump exposes, defined once, on an injected registry.

Names follow Prometheus practice: ``pump_`` prefix, base units (seconds,
bytes), ``_total`` counters, and bounded labels only: ``topic``, ``mode``,
``format``, ``stage`` and ``reason`` from the fixed sets in ``decode.REASONS``
and ``kafka.FAILURE_REASONS``; never a key, a path or a line number. Labelled
counters are pre-set to 0 so error panels show 0 rather than nothing. The
``Ledger`` feeds these per chunk or per batch; queue depth and in-flight are
read only when Prometheus scrapes.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector

from pump import __version__
from pump.decode import REASONS
from pump.kafka import FAILURE_REASONS

FORMATS = ("csv", "jsonl")
STAGES = ("queue", "in_flight")
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536)


def latency_buckets(request_timeout: float) -> tuple[float, ...]:
    """Ack latency buckets from 1 ms up to the request timeout (beyond it a send has failed)."""
    buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]
    return (*[b for b in buckets if b < request_timeout], request_timeout)


class Metrics:
    """All of pump's metrics for one run, bound to its topic and mode."""

    def __init__(self, registry: CollectorRegistry, topic: str, mode: str, request_timeout: float = 30.0) -> None:
        self.registry = registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        values = {"topic": topic, "mode": mode}

        def counter(name: str, doc: str, *labels: str) -> Any:
            metric = Counter(name, doc, ["topic", *labels], registry=registry)
            return metric if set(labels) - {"mode"} else metric.labels(**{k: values[k] for k in ("topic", *labels)})

        def gauge(name: str, doc: str, *labels: str) -> Any:
            return Gauge(name, doc, ["topic", *labels], registry=registry).labels(**{k: values[k] for k in ("topic", *labels)})

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Any:
            return Histogram(name, doc, ["topic", "mode"], buckets=buckets, registry=registry).labels(**values)

        info = Gauge("pump_build_info", "pump's version; always 1.", ["version", "python"], registry=registry)
        info.labels(version=__version__, python=platform.python_version()).set(1)
        self.start_time = gauge("pump_start_time_seconds", "Unix time the replay started.")
        self.done = gauge("pump_done", "1 once the replay has finished, else 0.", "mode")

        lines = counter("pump_input_lines", "Input lines read.", "format")
        decoded = counter("pump_records_decoded", "Records decoded from input.", "format")
        invalid = counter("pump_invalid_lines", "Input lines that are not valid records, by reason.", "reason")
        self.lines = {f: lines.labels(topic=topic, format=f) for f in FORMATS}
        self.decoded = {f: decoded.labels(topic=topic, format=f) for f in FORMATS}
        self.invalid = {reason: invalid.labels(topic=topic, reason=reason) for reason in REASONS}
        self.bytes_read = counter("pump_input_read_bytes", "Input bytes read from disk (compressed if the file is).")
        self.input_size = gauge("pump_input_size_bytes", "Input bytes on disk for the whole run (NaN if unknown: stdin).")

        self.queue_depth = gauge("pump_queue_depth_chunks", "Chunks waiting between reader and workers.")
        self.queue_capacity = gauge("pump_queue_capacity_chunks", "Bound of the chunk queue.")
        self.in_flight = gauge("pump_in_flight_records", "Records sent, not yet acknowledged.", "mode")
        self.in_flight_limit = gauge("pump_in_flight_limit_records", "Bound on records in flight.", "mode")
        blocked = counter("pump_backpressure_seconds", "Time spent waiting on a full queue or the in-flight bound.", "stage")
        self.blocked = {stage: blocked.labels(topic=topic, stage=stage) for stage in STAGES}
        self.batch_records = histogram("pump_batch_records", "Records per send (a batch in batch mode, else 1).", BATCH_BUCKETS)

        self.sent = counter("pump_records_sent", "Records handed to the producer.", "mode")
        self.acked = counter("pump_records_acknowledged", "Records acknowledged by the broker.", "mode")
        self.bytes_acked = counter("pump_acknowledged_bytes", "Value bytes acknowledged by the broker.", "mode")
        failed = counter("pump_records_failed", "Records that failed to deliver, by reason.", "mode", "reason")
        self.failed = {reason: failed.labels(topic=topic, mode=mode, reason=reason) for reason in FAILURE_REASONS}
        self.timeouts = counter("pump_timeouts", "Sends that timed out: outcome unknown, they may have been written.", "mode")
        self.retries = counter("pump_retries", "Produce retries after retriable broker errors (as aiokafka logs them).", "mode")
        self.ack_latency = histogram(
            "pump_ack_latency_seconds",
            "Send to broker acknowledgement: per batch in batch mode, per record otherwise.",
            latency_buckets(request_timeout),
        )

    def begin(self, input_size: int | None, queue_capacity: int, queue_depth: Callable[[], float]) -> None:
        self.start_time.set(time.time())
        self.done.set(0)
        self.input_size.set(float("nan") if input_size is None else input_size)
        self.queue_capacity.set(queue_capacity)
        self.queue_depth.set_function(queue_depth)

    def watch_in_flight(self, limit: int, used: Callable[[], float]) -> None:
        self.in_flight_limit.set(limit)
        self.in_flight.set_function(used)

    def finish(self) -> None:
        self.done.set(1)
