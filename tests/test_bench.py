"""`make bench` itself: a tiny run of the real script (whole processes, an embedded broker), so it cannot rot.

No speed is asserted: the figures only have to be consistent with what was sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builders import ROOT_DIR

pytestmark = pytest.mark.integration


def test_the_bench_runs_every_contender_whole_and_prints_medians_and_ratios(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    cmd = [sys.executable, str(ROOT_DIR / "benchmarks" / "send_modes.py"), "--rows", "2000", "--repeats", "2",
           "--contenders", "librdkafka,pump-batch,pump-sync", "--json", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT_DIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = json.loads(out.read_text())
    assert {name: len(rs) for name, rs in runs.items()} == {"librdkafka": 2, "pump-batch": 2, "pump-sync": 2}
    assert {r["records"] for r in runs["pump-batch"] + runs["librdkafka"]} == {2000} and runs["pump-sync"][0]["records"] == 40
    for r in runs["pump-batch"]:
        assert r["records_per_s"] == pytest.approx(r["records"] / r["wall_s"]) and r["cpu_s"] > 0 and r["rss_mb"] > 0
    table = proc.stdout.split("rotating order", 1)[1]
    assert "librdkafka" in table and "1.00x" in table and "pump-sync" in table


def test_the_pacing_bench_runs_both_paces_and_reads_every_record_back() -> None:
    cmd = [sys.executable, str(ROOT_DIR / "benchmarks" / "pacing.py"), "--seconds", "3", "--rate", "200", "--speed", "60",
           "--repeats", "1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT_DIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("600 records at --rate 200; 1,800 records over 180 event seconds at --speed 60")
    assert [line.split()[0] for line in lines[1:]] == ["--rate", "--speed"]
    assert all("windows vs target: worst" in line and "lag p50" in line for line in lines[1:])
    assert "late, 1 skipped" in lines[2]  # the one five-years-off timestamp
