"""The counts of one run: read, decoded, invalid, sent, acknowledged, failed, dead-lettered.

Only ``Accounts`` writes here; the report, the progress line and the metrics' gauges read.
Durations are seconds from ``time.perf_counter``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from pump.account.latency import LatencyHistogram
from pump.records import Invalid


@dataclass
class Ledger:
    max_invalid_shown: int = 10
    files: int = 0
    lines: int = 0
    bytes_read: int = 0  # uncompressed
    raw_bytes_read: int = 0  # as stored (compressed, if the input is)
    records: int = 0
    blank: int = 0
    invalid: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    invalid_examples: list[Invalid] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    bytes_acked: int = 0
    failed: int = 0
    failed_by_reason: Counter[str] = field(default_factory=Counter)
    dead_lettered: int = 0
    retries: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    blocked_seconds: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    @property
    def duration(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def in_flight(self) -> int:
        """Records handed to the producer and not yet acknowledged or failed."""
        return self.sent - self.acked - self.failed

    @property
    def unsettled(self) -> int:
        """Records decoded but neither acknowledged nor failed: 0 after every run that ends normally."""
        return self.records - self.acked - self.failed

    @property
    def unhandled(self) -> int:
        """Lines that are neither delivered nor dead-lettered (invalid or failed)."""
        return self.invalid + self.failed - self.dead_lettered
