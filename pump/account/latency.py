"""Acknowledgement latency for the report: fixed memory, quantiles within about 1%."""

from __future__ import annotations

import math
from collections import Counter


class LatencyHistogram:
    """Log-spaced buckets (2% wide) from 1 microsecond up. ``record`` takes a weight: a batch's records."""

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
        """The smallest bucket bound with at least ``q`` of the weight at or below it (never above ``max``)."""
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

    def mean(self) -> float:
        """The mean, from the buckets' midpoints (within about 1%)."""
        if not self.count:
            return 0.0
        total = sum(n * self._MIN * math.exp((i + 0.5) * self._BASE) for i, n in self._counts.items())
        return min(total / self.count, self.max)

    def buckets(self) -> dict[int, int]:
        """The weight in each bucket: with ``count`` and ``max``, all ``merge`` needs (histograms of several processes)."""
        return dict(self._counts)

    def merge(self, buckets: dict[int, int], count: int, max_seconds: float) -> None:
        """Adds another histogram's weights (``buckets()``, ``count``, ``max``): quantiles as if recorded here."""
        self._counts.update(buckets)
        self.count += count
        self.max = max(self.max, max_seconds)
