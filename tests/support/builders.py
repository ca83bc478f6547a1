"""Builders every test shares: input lines, files, chunks and configs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

from pump.config import ReplayConfig
from pump.input import Chunk

ROOT_DIR = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT_DIR / "examples"


def keyed_lines(n: int, keys: int = 37, pad: bool = False) -> list[bytes]:
    """JSON lines ``{"user": "u<i % keys>", "seq": i}``: keyed, with a sequence to check per-key order."""
    if pad:
        return [msgspec.json.encode({"user": f"u{i % keys}", "seq": i, "pad": "x" * (i % 50)}) for i in range(n)]
    return [b'{"user": "u%d", "seq": %d}' % (i % keys, i) for i in range(n)]


def write_lines(path: Path, lines: list[bytes], final_newline: bool = True) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
    return path


def chunk(data: bytes, *, seq: int = 0, first_line: int = 1, offset: int = 0, path: str = "in.jsonl",
          header: tuple[str, ...] | None = None, delimiter: str = ",") -> Chunk:  # fmt: skip
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    fmt = "csv" if header is not None else "jsonl"
    return Chunk(path, fmt, header, first_line, offset, data, len(data), lines=lines, seq=seq, delimiter=delimiter)


def config(paths: Path | str | list[Path] | list[str], topic: str, bootstrap: str = "memory", **settings: Any) -> ReplayConfig:
    """A replay of ``paths`` into ``topic``; settings by their flat names; no progress line unless asked."""
    names = [str(p) for p in paths] if isinstance(paths, list) else [str(paths)]
    settings.setdefault("progress", False)
    return ReplayConfig.of(names, topic, bootstrap_servers=bootstrap, **settings)


class FakeClock:
    """A pacer's clock and sleep: sleeping moves the clock on at once, and is remembered."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float, halted: asyncio.Event) -> None:
        self.slept.append(seconds)
        self.now += seconds
