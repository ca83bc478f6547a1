"""Where every line's fate is counted: read, decoded, invalid, sent, acknowledged, failed.

The pipeline and the send modes call these methods and nothing else keeps
counts, so the report and the Prometheus metrics have one source of truth.
Counting is per chunk or per batch (per record only in the per-record modes).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pump.decode import Decoded, Invalid
from pump.source import Chunk

if TYPE_CHECKING:
    from pump.metrics import Metrics


class LatencyHistogram:
    """Log-spaced buckets (2% wide) from 1 microsecond up: fixed memory, ~1% error on quantiles."""

    _BASE = math.log(1.02)
    _MIN = 1e-6

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self.count = 0
        self.max = 0.0

    def record(self, seconds: float, weight: int = 1) -> None:
        if weight <= 0:
            return
        index = int(math.log(max(seconds, self._MIN) / self._MIN) / self._BASE)
        self._counts[index] += weight
        self.count += weight
        if seconds > self.max:
            self.max = seconds

    def quantile(self, q: float) -> float:
        if not self.count:
            return 0.0
        target = q * self.count
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= target:
                upper = self._MIN * math.exp((index + 1) * self._BASE)
                return min(upper, self.max)
        return self.max


@dataclass
class Ledger:
    """Counts for one run. Durations are seconds from ``time.perf_counter``."""

    max_invalid_shown: int = 10
    files: int = 0
    lines: int = 0
    bytes_read: int = 0
    raw_bytes_read: int = 0
    rows: int = 0
    records: int = 0
    blank: int = 0
    invalid: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    invalid_examples: list[Invalid] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    failed: int = 0
    failed_by_reason: Counter[str] = field(default_factory=Counter)
    bytes_acked: int = 0
    dead_lettered: int = 0
    retries: int = 0
    dead_letter_failures: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    blocked_seconds: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    metrics: Metrics | None = None

    def file_opened(self) -> None:
        self.files += 1

    def chunk_read(self, chunk: Chunk) -> None:
        self.bytes_read += len(chunk.data)
        self.raw_bytes_read += chunk.raw_bytes
        self.lines += chunk.lines
        if self.metrics is not None:
            self.metrics.lines[chunk.format].inc(chunk.lines)
            self.metrics.bytes_read.inc(chunk.raw_bytes)

    def decoded(self, result: Decoded) -> None:
        n_invalid = len(result.invalid)
        n_records = result.record_count
        self.records += n_records
        self.blank += result.blank
        self.rows += n_records + n_invalid + result.blank
        if self.metrics is not None:
            self.metrics.decoded[result.chunk.format].inc(n_records)
        if n_invalid:
            self.invalid += n_invalid
            reasons = Counter(i.reason for i in result.invalid)
            self.invalid_by_reason.update(reasons)
            if self.metrics is not None:
                for reason, n in reasons.items():
                    self.metrics.invalid[reason].inc(n)
            room = self.max_invalid_shown - len(self.invalid_examples)
            if room > 0:
                self.invalid_examples.extend(result.invalid[:room])

    def records_sent(self, n: int) -> None:
        self.sent += n
        if self.metrics is not None:
            self.metrics.sent.inc(n)
            self.metrics.batch_records.observe(n)

    def records_acked(self, n: int, nbytes: int, latency: float) -> None:
        self.acked += n
        self.bytes_acked += nbytes
        self.latency.record(latency, n)
        if self.metrics is not None:
            self.metrics.acked.inc(n)
            self.metrics.bytes_acked.inc(nbytes)
            self.metrics.ack_latency.observe(latency)

    def records_failed(self, n: int, reason: str) -> None:
        self.failed += n
        self.failed_by_reason[reason] += n
        if self.metrics is not None:
            self.metrics.failed[reason].inc(n)  # type: ignore[index]
            if reason == "timeout":
                self.metrics.timeouts.inc(n)

    def retried(self) -> None:
        """The producer retried a send after a retriable error."""
        self.retries += 1
        if self.metrics is not None:
            self.metrics.retries.inc()

    def blocked(self, stage: str, seconds: float) -> None:
        """Time spent waiting on backpressure: ``queue`` (reader) or ``in_flight`` (sender)."""
        self.blocked_seconds[stage] += seconds
        if self.metrics is not None:
            self.metrics.blocked[stage].inc(seconds)

    def finish(self) -> None:
        self.finished = time.perf_counter()

    @property
    def duration(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def unsettled(self) -> int:
        """Records decoded but neither acknowledged nor failed: must be 0 after a clean run."""
        return self.records - self.acked - self.failed
