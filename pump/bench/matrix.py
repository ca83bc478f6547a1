"""The combinations a bench compares, and the order its runs go in.

Each repeat runs every combination once; the order rotates by one from repeat to repeat, so that a drift
of the machine or the cluster over the session (a cache warming, a neighbour starting) favours none.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, get_args

from pump.config import Acks, Compression, ModeName

#: The values a bench may list, as the replay's settings declare them (``pump.config``).
MODES: tuple[str, ...] = get_args(ModeName)
ACKS: tuple[str, ...] = get_args(Acks)
COMPRESSION: tuple[str, ...] = get_args(Compression)


@dataclass(frozen=True, slots=True)
class Combination:
    mode: str
    acks: str
    compression: str
    linger_ms: float
    batch_bytes: int
    processes: int

    def label(self) -> str:
        return (f"{self.mode} acks={self.acks} {self.compression} linger={self.linger_ms:g}ms"
                f" batch={self.batch_bytes // 1024}KiB" + (f" p{self.processes}" if self.processes != 1 else ""))  # fmt: skip

    def replay_flags(self) -> list[str]:
        return ["--mode", self.mode, "--acks", self.acks, "--compression", self.compression, "--linger-ms",
                f"{self.linger_ms:g}", "--batch-bytes", str(self.batch_bytes), "--processes", str(self.processes)]  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def combinations(
    modes: list[str],
    acks: list[str],
    compression: list[str],
    linger_ms: list[float],
    batch_bytes: list[int],
    processes: list[int],
) -> list[Combination]:
    """Every combination of the values given, in the order given (the first list varies slowest)."""
    return [Combination(*values) for values in itertools.product(modes, acks, compression, linger_ms, batch_bytes, processes)]


def schedule(combos: list[Combination], repeats: int) -> list[tuple[int, Combination]]:
    """(repeat, combination) for every run: each repeat runs them all, starting one further along each time."""
    n = len(combos)
    return [(r, combos[(r + i) % n]) for r in range(repeats) for i in range(n)]
