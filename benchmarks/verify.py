"""What ``pump verify`` costs, next to the replay it checks.

    python benchmarks/verify.py [--repeats 5] [--rows 1000000]

One Apache Kafka node from the test harness. The rides are replayed once with ``--exactly-once`` into a topic of 8
partitions; then, ``--repeats`` times, ``pump verify`` of that topic and a plain replay into a fresh topic alternate,
each a whole process timed from start to exit, with its CPU time and peak RSS from ``wait4``. The table gives medians
and min..max, and verify's wall time as a multiple of the replay's, in the same session.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from send_modes import PARTITIONS, ensure  # noqa: E402

from tests.support.apache_kafka import KafkaCluster  # noqa: E402
from tests.support.kafka import create_topic  # noqa: E402


def timed(*args: str) -> tuple[float, float, float]:
    """``pump ARGS``: its wall seconds, CPU seconds and peak RSS in MB; it must exit 0."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pump", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, out.decode() + err.decode()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    a = parser.parse_args()
    data = ensure(a.rows, "jsonl")
    with tempfile.TemporaryDirectory() as tmp, KafkaCluster(1, Path(tmp) / "kafka") as kafka:
        common = [str(data), "--bootstrap-servers", kafka.bootstrap, "--schema", "rides", "--key-field", "PULocationID",
                  "--no-progress"]  # fmt: skip
        create_topic(kafka.bootstrap, "checked", PARTITIONS)
        timed("replay", *common, "--topic", "checked", "--exactly-once")
        runs: dict[str, list[tuple[float, float, float]]] = {"pump verify": [], "pump replay": []}
        for i in range(a.repeats):
            create_topic(kafka.bootstrap, f"fresh-{i}", PARTITIONS)
            runs["pump verify"].append(timed("verify", *common, "--topic", "checked"))
            runs["pump replay"].append(timed("replay", *common, "--topic", f"fresh-{i}"))
    replay = statistics.median(w for w, _, _ in runs["pump replay"])
    print(f"{'contender':<12} {'rows':>10}  {'wall s (median, min..max)':>26}  {'records/s':>9}  {'CPU s':>5}  {'RSS MB':>6}"
          f"  {'vs replay':>9}")  # fmt: skip
    for name, results in runs.items():
        walls = sorted(w for w, _, _ in results)
        wall = statistics.median(walls)
        cpu = statistics.median(c for _, c, _ in results)
        rss = max(r for _, _, r in results)
        print(f"{name:<12} {a.rows:>10,}  {wall:>9.2f} ({walls[0]:.2f}..{walls[-1]:.2f})      {a.rows / wall:>9,.0f}"
              f"  {cpu:>5.1f}  {rss:>6.0f}  {wall / replay:>8.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
