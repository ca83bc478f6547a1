"""One run of a bench: a whole ``pump replay`` process, timed from start to exit, its CPU time from ``wait4``, its
peak RSS from ``/proc/PID/status`` (``VmHWM``, read as it runs, and summed with its child processes' under
``--processes``: ``wait4``'s ``ru_maxrss`` would count the bench's own memory, inherited at the fork, into every
run), its figures from the report it writes.

``max_seconds`` time-boxes a run: it is sent SIGINT then, stops as a first Ctrl-C stops a replay (what is in
flight is finished), and its figures cover what it sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pump.bench.matrix import Combination
from pump.errors import PumpError


@dataclass(frozen=True, slots=True)
class Run:
    combination: Combination
    repeat: int
    sent: int
    acknowledged: int
    failed: int
    bytes: int
    seconds: float  # pump's own window: first record read to last outcome
    wall_s: float  # the whole process, start to exit
    latency_ms: dict[str, float]  # per record: avg, p50, p95, p99, max
    cpu_s: float
    rss_mb: float
    time_boxed: bool
    exit_code: int

    @property
    def records_per_s(self) -> float:
        return self.acknowledged / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "combination": self.combination.as_dict(), "repeat": self.repeat, "sent": self.sent,
            "acknowledged": self.acknowledged,
            "failed": self.failed, "bytes": self.bytes, "seconds": self.seconds, "wall_s": round(self.wall_s, 4),
            "records_per_s": round(self.records_per_s, 1), "mb_per_s": round(self.mb_per_s, 3),
            "latency_ms": self.latency_ms, "cpu_s": round(self.cpu_s, 3), "rss_mb": round(self.rss_mb, 1),
            "time_boxed": self.time_boxed, "exit_code": self.exit_code,
        }  # fmt: skip


def run_one(combination: Combination, repeat: int, base: list[str], max_seconds: float | None, index: int, total: int) -> Run:
    """``base``: the replay's command line without the combination's flags and the report."""
    with tempfile.TemporaryDirectory(prefix="pump-bench-") as tmp:
        report_path = Path(tmp) / "report.json"
        err_path = Path(tmp) / "stderr"
        cmd = [sys.executable, "-m", "pump", "replay", *base, *combination.replay_flags(), "--report-json", str(report_path),
               "--no-progress"]  # fmt: skip
        with err_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            boxed = False
            peaks: dict[int, int] = {}
            while True:
                for pid in (proc.pid, *_children(proc.pid)):
                    peaks[pid] = max(peaks.get(pid, 0), _peak_rss_kb(pid))
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if max_seconds is not None and not boxed and time.perf_counter() - started >= max_seconds:
                    proc.send_signal(signal.SIGINT)
                    boxed = True
                time.sleep(0.02)
            wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1, 130) or not report_path.exists():
            said = err_path.read_text(errors="replace").strip().splitlines()
            why = said[-1].removeprefix("pump: ") if said else f"exit status {code}"
            raise PumpError(f"run {index} of {total} ({combination.label()}) failed: {why}")
        report = msgspec.json.decode(report_path.read_bytes())
    lat = report["latency"]
    latency = {"avg": lat.get("mean_ms", 0.0), "p50": lat["p50_ms"], "p95": lat["p95_ms"], "p99": lat["p99_ms"],
               "max": lat["max_ms"]}  # fmt: skip
    return Run(
        combination, repeat, report["sent"], report["acknowledged"], report["failed"], report["bytes_acknowledged"],
        report["duration_s"], wall, latency, usage.ru_utime + usage.ru_stime, sum(peaks.values()) / 1024,
        boxed and code == 130, code,
    )  # fmt: skip


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident set so far (``VmHWM``), 0 where the system does not say."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    """The process's children (``--processes``), where the system lists them."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []
