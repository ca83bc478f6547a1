"""Faults on the broker side and the wire: nothing missing, duplicates within the stated bound."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from pump import replay
from pump.dev.broker import Broker, free_port
from tests.support import cli
from tests.support.builders import config, write_lines
from tests.support.builders import keyed_lines as keyed
from tests.support.checks import in_key_order
from tests.support.kafka import consume, consumed
from tests.support.mockcluster import NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, mock_cluster
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration


def keyed_lines(n: int) -> list[bytes]:
    return keyed(n, keys=23)


def dead_letters_in(dlq: Path) -> set[bytes]:
    return (
        {letter["raw"].encode() for letter in map(msgspec.json.decode, dlq.read_bytes().splitlines())} if dlq.exists() else set()
    )


async def test_idempotent_replay_through_retriable_errors_and_a_leader_move_is_exact(tmp_path: Path) -> None:
    lines = keyed_lines(5000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    with mock_cluster(3) as cluster:
        cluster.create_topic("faults", 4)
        cluster.fail_produce(*([NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT] * 4))
        cfg = config(path, "faults", cluster.bootstrap, key_field="user", idempotence="on", chunk_bytes=2048, max_in_flight=500)
        run = asyncio.create_task(replay(cfg))
        await asyncio.sleep(0.2)
        cluster.move_leader("faults", 0, 2)
        cluster.move_leader("faults", 1, 3)
        report = await asyncio.wait_for(run, 120)
        got = await consumed(cluster.bootstrap, "faults", len(lines), within=60)
    assert (report.acknowledged, report.failed, report.exit_code) == (5000, 0, 0), report.to_text()
    assert report.retries >= 8, "the injected Produce errors never reached the producer"
    counts = collections.Counter(m.value for m in got)
    assert counts == collections.Counter(lines), "missing or duplicated records"
    in_key_order(got, 4)


def scrape(port: int) -> dict[str, float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


def test_broker_paused_longer_than_the_request_timeout_loses_nothing(tmp_path: Path) -> None:
    lines = keyed_lines(400_000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    dlq = tmp_path / "dead.jsonl"
    with Broker() as broker:
        args = ["replay", str(path), "--topic", "paused", "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--partitions", "4", "--key-field", "user", "--request-timeout", "2", "--dead-letter", str(dlq),
                "--max-in-flight", "20000", "--no-progress", "--checkpoint", str(tmp_path / "cp.json"),
                "--checkpoint-interval", "0.1"]  # fmt: skip
        with cli.start(*args) as proc:
            deadline = time.monotonic() + 60  # pause once the run is under way (its first checkpoint is written after
            while not (tmp_path / "cp.json").exists():  # connecting), not at a fixed time: that hit set-up when loaded
                assert time.monotonic() < deadline and proc.poll() is None, "the replay never started"
                time.sleep(0.02)
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            time.sleep(4)  # twice the request timeout
            os.kill(broker.process.pid, signal.SIGCONT)
            out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), out.decode() + err.decode()
        report = out.decode()
        got = collections.Counter(m.value for m in consume(broker.bootstrap, "paused", len(lines), within=120))
    dead = dead_letters_in(dlq)
    assert "timeout:" in report, f"the pause did not hit the replay:\n{report}"
    missing = [v for v in lines if v not in got and v not in dead]
    assert not missing, f"{len(missing)} lines neither delivered nor dead-lettered; report:\n{report}"
    assert all(c <= 2 for c in got.values())


def test_a_broker_that_never_answers_does_not_grow_pump(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "big.jsonl", keyed_lines(2_000_000))  # ~60 MB
    size = path.stat().st_size
    port = free_port()
    with Broker() as broker:
        args = ["replay", str(path), "--topic", "hung", "--bootstrap-servers", broker.bootstrap, "--create-topic", "--key-field",
                "user", "--max-in-flight", "10000", "--queue-size", "4", "--metrics-addr", f"127.0.0.1:{port}",
                "--request-timeout", "60", "--no-progress"]  # fmt: skip
        with cli.start(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        if scrape(port).get("pump_records_sent_total", 0) > 0:
                            break
                    except OSError:
                        pass
                    time.sleep(0.05)
                assert broker.process is not None
                os.kill(broker.process.pid, signal.SIGSTOP)  # blackholed: connections stay open, nothing answers
                time.sleep(2)
                first = scrape(port)
                time.sleep(2)
                second = scrape(port)
            finally:
                proc.kill()
                if broker.process is not None:
                    os.kill(broker.process.pid, signal.SIGCONT)
    assert second["pump_input_read_bytes_total"] == first["pump_input_read_bytes_total"] < size / 2, "reading did not stop"
    assert second["pump_in_flight_records"] <= 10000
    assert second["pump_queue_depth_chunks"] <= 4
    assert second["process_resident_memory_bytes"] < 250e6


def test_connections_cut_and_delayed_mid_replay_lose_nothing(tmp_path: Path) -> None:
    lines = keyed_lines(1_000_000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    dlq = tmp_path / "dead.jsonl"
    broker_port = free_port()
    with Proxy(broker_port) as proxy, Broker(port=broker_port, advertised_port=proxy.port) as broker:
        args = ["replay", str(path), "--topic", "cut", "--bootstrap-servers", broker.bootstrap, "--create-topic", "--partitions",
                "4", "--key-field", "user", "--delivery-timeout", "10", "--dead-letter", str(dlq), "--max-in-flight", "20000",
                "--no-progress"]  # fmt: skip
        with cli.start(*args) as proc:
            proxy.wait_forwarded(1 << 20)  # records flow (a cut while connecting is a set-up error, status 2)
            proxy.delay = 0.05  # slow the wire down
            time.sleep(0.5)
            cut = proxy.cut_all()  # then reset every connection mid-flight
            proxy.delay = 0.0
            time.sleep(0.3)
            cut += proxy.cut_all()
            out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), out.decode() + err.decode()
        assert cut > 0 and proxy.connections > 2, "the cuts did not hit any connection"
        got = collections.Counter(m.value for m in consume(broker.bootstrap, "cut", len(lines), within=120))
    dead = dead_letters_in(dlq)
    missing = [v for v in lines if v not in got and v not in dead]
    assert not missing, f"{len(missing)} lines neither delivered nor dead-lettered; report:\n{out.decode()}"
    assert all(c <= 2 for c in got.values())
