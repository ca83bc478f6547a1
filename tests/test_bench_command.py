"""`pump bench`: the matrix, the order of runs, the figures, and a real run of the command against brokers."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import pytest

from pump.bench.matrix import Combination, combinations, schedule
from pump.bench.runs import Run
from pump.bench.summary import by_combination, table
from pump.dev.broker import Broker
from tests.support import cli
from tests.support.builders import ROOT_DIR
from tests.support.kafka import create_topic
from tests.support.tools import require


def test_every_combination_runs_once_per_repeat_in_an_order_that_rotates() -> None:
    combos = combinations(["batch", "sync"], ["1", "all"], ["none"], [5.0], [1 << 20], [1])
    assert len(combos) == 4 and len(set(combos)) == 4
    order = schedule(combos, 3)
    assert [r for r, _ in order] == [0] * 4 + [1] * 4 + [2] * 4
    for r in range(3):
        assert {c for rr, c in order if rr == r} == set(combos)
    assert [c for _, c in order[:3:1]] != [c for _, c in order[4:7]], "each repeat starts elsewhere"
    assert order[4][1] == order[1][1] and order[8][1] == order[2][1]


def fake_run(combo: Combination, repeat: int, acknowledged: int, seconds: float, p50: float) -> Run:
    latency = {"avg": p50, "p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4}
    return Run(
        combo, repeat, acknowledged, acknowledged, 0, acknowledged * 400, seconds, seconds + 0.5, latency, 1.0, 80.0, False, 0
    )


def test_a_combinations_row_holds_the_medians_of_its_runs_and_its_ratio_to_the_fastest() -> None:
    fast, slow = combinations(["batch", "callback"], ["1"], ["none"], [5.0], [1 << 20], [1])
    runs = [fake_run(fast, r, 1000, s, 10.0 + r) for r, s in enumerate((1.0, 2.0, 4.0))]
    runs += [fake_run(slow, r, 1000, s, 50.0) for r, s in enumerate((4.0, 5.0, 10.0))]
    rows = by_combination([fast, slow], runs)
    assert rows[0]["records_per_s"] == {"median": 500.0, "min": 250.0, "max": 1000.0}
    assert rows[0]["latency_ms"]["p50"] == 11.0 and rows[0]["mb_per_s"] == 0.2
    assert (rows[0]["vs_fastest"], rows[1]["vs_fastest"]) == (1.0, 0.4)
    text = table(rows, [fast.label(), slow.label()])
    assert "500 (250..1,000)" in text and "0.40x" in text


@pytest.mark.integration
def test_a_small_matrix_against_the_embedded_broker_has_every_combination_and_consistent_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = cli.pump("bench", "--bootstrap-servers", "embedded", "--rows", "3000", "--modes", "batch,callback", "--acks", "1",
                    "--linger-ms", "0,5", "--repeat", "2", "--report-json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    report = json.loads(out.read_text())
    assert report["version"] == 1 and len(report["runs"]) == 8 and len(report["combinations"]) == 4
    for run in report["runs"]:  # every record sent was acknowledged, and the rate is records over the window
        assert (run["sent"], run["acknowledged"], run["failed"], run["time_boxed"]) == (3000, 3000, 0, False)
        assert run["records_per_s"] == pytest.approx(run["acknowledged"] / run["seconds"], rel=1e-3)
        assert run["cpu_s"] > 0 and run["rss_mb"] > 0 and 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["max"]
    for row in report["combinations"]:
        mine = [r["records_per_s"] for r in report["runs"] if r["combination"] == row["combination"]]
        assert len(mine) == 2 and row["records_per_s"]["median"] == pytest.approx(statistics.median(mine), abs=0.1)
        label = f"{row['combination']['mode']} acks=1 none linger={row['combination']['linger_ms']:g}ms"
        assert label in text
    assert max(row["vs_fastest"] for row in report["combinations"]) == 1.0


@pytest.mark.integration
def test_a_time_boxed_run_stops_and_says_so() -> None:
    proc = cli.pump("bench", "--bootstrap-servers", "embedded", "--rows", "200000", "--modes", "sync", "--repeat", "1",
                    "--max-seconds", "1.5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert "sync acks=1 none linger=5ms batch=1024KiB*" in proc.stdout.decode()
    assert "* time-boxed by --max-seconds" in proc.stdout.decode()


@pytest.mark.integration
def test_bad_input_is_one_line_and_exit_2(broker: Broker, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, 1)
    cases = [
        (["--bootstrap-servers", "embedded", "--modes", "batch,fast"], "--modes: unknown 'fast'"),
        (["--bootstrap-servers", "embedded", "--compression", "brotli"], "--compression: unknown 'brotli'"),
        (["--bootstrap-servers", "embedded", "--mode", "sync"], "--mode is set by pump bench"),
        (["--bootstrap-servers", broker.bootstrap, "--topic", topic_name], f"topic {topic_name!r} exists at"),
        (["--bootstrap-servers", "127.0.0.1:1", "--connect-timeout", "2"], "cannot use Kafka at 127.0.0.1:1"),
    ]
    for args, said in cases:
        proc = cli.pump("bench", "--rows", "10", *args)
        assert proc.returncode == 2, (args, proc.stderr.decode())
        [line] = cli.stderr_lines(proc)
        assert said in line, line


@pytest.mark.integration
def test_the_html_page_opens_in_a_real_browser_with_its_charts(tmp_path: Path) -> None:
    chromium = require("chromium", "Debian package 'chromium'")
    page, shot = tmp_path / "bench.html", tmp_path / "bench.png"
    proc = cli.pump("bench", "--bootstrap-servers", "embedded", "--rows", "2000", "--modes", "batch,sync", "--repeat", "1",
                    "--max-seconds", "3", "--html", str(page))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400", f"file://{page}"]
    dom = subprocess.run([*browser[:-1], "--dump-dom", browser[-1]], capture_output=True, timeout=120, text=True).stdout
    subprocess.run([*browser[:-1], f"--screenshot={shot}", browser[-1]], capture_output=True, timeout=120, check=True)
    assert shot.exists() and shot.stat().st_size > 10_000, "the browser rendered no page"
    for chart in ("throughput", "latency"):  # each figure holds an SVG chart naming every combination
        figure = dom.split(f'<figure id="{chart}">', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in figure and "batch acks=1 none linger=5ms" in figure and "sync acks=1 none linger=5ms" in figure
    assert "Throughput by combination" in dom and "Latency percentiles by combination" in dom
    assert dom.count("<tr>") == 3  # the header row and one per combination


@pytest.mark.integration
def test_html_without_matplotlib_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    proc = cli.pump("bench", "--bootstrap-servers", "embedded", "--html", str(tmp_path / "x.html"),
                    env={"PYTHONPATH": f"{blocker}:{ROOT_DIR}"})  # fmt: skip
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == ["pump: --html draws its charts with matplotlib: pip install 'pump[charts]'"]
