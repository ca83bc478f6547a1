"""Two pump trees, the same replays, measured as a user would: whole CLI processes, start to exit.

    python benchmarks/compare.py --baseline /path/to/other/checkout [--repeats 5] [--rows 1000000]

Each case (batch on JSON lines, CSV and Parquet, callback, sync) runs ``--repeats`` times per tree,
the trees alternating in ABBA order so that drift over the session favours neither, every run a
fresh ``python -m pump replay`` process against its own fresh embedded broker. A tree's pump is the
one its folder holds: the process starts in that folder, so ``python -m pump`` imports it first.
Printed per case and tree: the median wall time from start to exit and its spread (min..max), the
median records/s over that wall time, and the ratio of medians against the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from send_modes import ensure  # noqa: E402  (the same synthetic files as make bench)

# --acks 1 as the librdkafka reference and pump before issue 8 (whose default it was); idempotence then stays off
COMMON = ["--topic", "bench", "--create-topic", "--partitions", "8", "--schema", "rides", "--key-field", "PULocationID",
          "--linger-ms", "5", "--batch-bytes", str(1 << 20), "--acks", "1", "--no-progress"]  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    fmt: str
    rows_divisor: int  # slow modes replay a smaller sample
    args: tuple[str, ...] = ()


CASES = (
    Case("batch-jsonl", "jsonl", 1),
    Case("batch-csv", "csv", 1),
    Case("batch-parquet", "parquet", 1),
    Case("callback-jsonl", "jsonl", 5, ("--mode", "callback")),
    Case("sync-jsonl", "jsonl", 50, ("--mode", "sync")),
)


def run_once(tree: Path, path: Path, case: Case) -> dict[str, float]:
    """One replay in its own process; wall time from start to exit, and its peak RSS."""
    from pump.dev.broker import Broker

    with Broker() as broker, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pump", "replay", str(path), "--bootstrap-servers", broker.bootstrap, *COMMON,
               *case.args, "--report-json", str(report)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{tree}: {case.name} exited {proc.returncode}:\n{stderr}")
        acked = json.loads(report.read_text())["acknowledged"]
    cpu = usage.ru_utime + usage.ru_stime  # every thread, and the decode processes
    return {"wall_s": wall, "cpu_s": cpu, "records": acked, "records_per_s": acked / wall, "rss_mb": usage.ru_maxrss / 1024}


def summarize(runs: list[dict[str, float]]) -> dict[str, float]:
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "rate_median": statistics.median(r["records_per_s"] for r in runs),
        "rss_median": statistics.median(r["rss_mb"] for r in runs),
        "cpu_median": statistics.median(r["cpu_s"] for r in runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, required=True, help="another pump checkout (e.g. a git worktree of main)")
    ap.add_argument("--candidate", type=Path, default=ROOT, help="the tree under test (default: this one)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cases", default=",".join(c.name for c in CASES))
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    a = ap.parse_args()
    trees = {"baseline": a.baseline.resolve(), "candidate": a.candidate.resolve()}
    cases = [c for c in CASES if c.name in a.cases.split(",")]
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for case in cases:
        path = ensure(a.rows // case.rows_divisor, case.fmt)
        for i in range(a.repeats):
            order = ("baseline", "candidate") if i % 2 == 0 else ("candidate", "baseline")
            for who in order:
                result = run_once(trees[who], path, case)
                runs.setdefault((case.name, who), []).append(result)
                print(json.dumps({"case": case.name, "tree": who, "repeat": i, **result}), flush=True)
    print(table(cases, runs, a.repeats))
    if a.json:
        a.json.write_text(json.dumps({f"{c}/{w}": r for (c, w), r in runs.items()}, indent=2))


def table(cases: list[Case], runs: dict[tuple[str, str], list[dict[str, float]]], repeats: int) -> str:
    head = (
        f"{'case':<16}{'tree':<11}{'wall s (median, min..max)':>28}{'records/s':>12}{'CPU s':>7}{'RSS MB':>8}{'vs baseline':>13}"
    )
    lines = ["", f"whole processes, start to exit, {repeats} runs each, ABBA order", head, "-" * len(head)]
    for case in cases:
        base = summarize(runs[(case.name, "baseline")])
        for who in ("baseline", "candidate"):
            s = summarize(runs[(case.name, who)])
            spread = f"{s['wall_median']:.2f} ({s['wall_min']:.2f}..{s['wall_max']:.2f})"
            ratio = base["wall_median"] / s["wall_median"]
            lines.append(
                f"{case.name:<16}{who:<11}{spread:>28}{s['rate_median']:>12,.0f}{s['cpu_median']:>7.2f}{s['rss_median']:>8.0f}"
                f"{ratio:>12.3f}x"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
