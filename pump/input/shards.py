"""Shards: a deterministic split of a replay's inputs, so that N independent runs send every record once.

The inputs are laid end to end in name order and shard ``i`` takes the bytes from ``i * total // n``
to ``(i + 1) * total // n`` of that sequence. A plain (uncompressed) JSON-lines file may be cut at
those bounds: each of its lines belongs to the piece holding its first byte, so every line is in
exactly one piece. A CSV file (a quoted field may hold a newline, so a byte offset says nothing of
where a record starts) and a compressed file (its offsets are not the file's) are never cut: each
goes whole to the shard in whose share its first byte lies. Pure: the caller says which files may
be cut; no I/O here.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass

from pump.config import config_error, verbatim

JOB_INDEX = "JOB_COMPLETION_INDEX"  # what a Kubernetes Indexed Job sets in each pod


@dataclass(frozen=True, slots=True)
class Piece:
    """Lines of ``path`` whose first byte is in ``[start, end)`` (``end`` None: to the file's end)."""

    path: str
    start: int = 0
    end: int | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


@dataclass(frozen=True, slots=True)
class Input:
    path: str
    size: int
    cuttable: bool  # a plain JSON-lines file


def plan(inputs: Sequence[Input], shards: int) -> list[list[Piece]]:
    """Every shard's pieces, in input order. A shard may get none (more shards than bytes or files)."""
    if shards < 1:
        raise ValueError("at least one shard")
    ordered = sorted(inputs, key=lambda i: i.path)
    total = sum(i.size for i in ordered)
    bounds = [k * total // shards for k in range(shards + 1)]

    def owner(offset: int) -> int:
        return min(max(bisect.bisect_right(bounds, offset) - 1, 0), shards - 1)

    out: list[list[Piece]] = [[] for _ in range(shards)]
    at = 0
    for item in ordered:
        if not item.cuttable or item.size == 0:
            out[owner(at)].append(Piece(item.path))
        else:
            for k in range(owner(at), owner(at + item.size - 1) + 1):
                start, end = max(bounds[k], at) - at, min(bounds[k + 1], at + item.size) - at
                if end > start:
                    out[k].append(Piece(item.path, start, None if end >= item.size else end))
        at += item.size
    return out


def parse_shard(spec: str, environ: dict[str, str] | None = None) -> tuple[int, int]:
    """``I/N``, or ``N`` with ``I`` from ``$JOB_COMPLETION_INDEX``: (index, count), 0 <= index < count."""
    env = os.environ if environ is None else environ
    index_text, sep, count_text = spec.rpartition("/")
    if not sep:
        index_text, count_text = env.get(JOB_INDEX, ""), spec
        if not index_text:
            raise config_error(f"{{shard}} {verbatim(spec)}: give I/N, or set ${JOB_INDEX} (as an Indexed Job does)")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise config_error(f"{{shard}} {verbatim(repr(spec))}: expected I/N, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise config_error(f"{{shard}} {verbatim(repr(spec))}: the index must be from 0 to N-1 and N at least 1")
    return index, count
