"""Peak memory of whole ``pump replay`` processes, by format and input size: is it flat from 1M to 5M records?

    python benchmarks/memory.py [--repeats 5] [--sizes 1000000,5000000] [--formats jsonl,csv,parquet]

Each run is a fresh broker (Tansu, started by this script, so it is not counted) and a whole ``python -m pump replay``
process of the synthetic rides (``--schema rides --key-field PULocationID``, 8 partitions, acks 1), timed from start to
exit; its peak RSS is what ``wait4`` reports for it. The formats and sizes alternate, rotating from repeat to repeat.
Printed: the median peak and its spread (min..max), and the median wall time, per format and size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pump.dev.broker import Broker  # noqa: E402


def run_once(path: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one replay of ``path`` into a fresh broker."""
    with Broker() as broker:
        cmd = [sys.executable, "-m", "pump", "replay", str(path), "--bootstrap-servers", broker.bootstrap, "--topic",
               "memory", "--create-topic", "--partitions", "8", "--schema", "rides", "--key-field", "PULocationID",
               "--acks", "1", "--no-progress"]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"pump failed on {path}: {proc.stderr.read().decode() if proc.stderr else ''}")
    return usage.ru_maxrss / 1024, wall


def _ensured(fmt: str, rows: int) -> Path:
    """The synthetic file, made in a process of its own if missing: Linux carries a process's peak RSS across exec, so
    making a 5M-row file here would raise every replay's peak as ``wait4`` reports it."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); from send_modes import ensure; print(ensure({rows}, {fmt!r}))"
    return Path(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--formats", default="jsonl,csv,parquet")
    args = parser.parse_args()
    cases = [(fmt, int(rows)) for rows in args.sizes.split(",") for fmt in args.formats.split(",")]
    paths = {case: _ensured(*case) for case in cases}
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {case: [] for case in cases}
    for repeat in range(args.repeats):
        shift = repeat % len(cases)
        for case in cases[shift:] + cases[:shift]:
            runs[case].append(run_once(paths[case]))
            print(f"  {case[0]} {case[1]:,} repeat {repeat}: {runs[case][-1][0]:.0f} MB", file=sys.stderr, flush=True)
    print(f"{'input':<10}{'rows':>11}{'peak MB (median, min..max)':>30}{'wall s':>9}")
    for (fmt, rows), got in runs.items():
        peaks = [p for p, _ in got]
        spread = f"{statistics.median(peaks):.0f} ({min(peaks):.0f}..{max(peaks):.0f})"
        print(f"{fmt:<10}{rows:>11,}{spread:>30}{statistics.median(w for _, w in got):>9.2f}")


if __name__ == "__main__":
    main()
