"""``--processes N``: one run in N processes, each sending its share of the partitions; one report, one set of
metrics, one checkpoint, one dead-letter file; stops, deaths and resumes that lose nothing and leave no process."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest
from prometheus_client import CollectorRegistry

from pump import replay
from pump.account import Ledger
from pump.decode.partition import LINES_PER_STICKY_BLOCK
from pump.dev.broker import Broker
from pump.parallel import wire
from pump.records import Invalid
from tests.support import cli
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import consume, create_topic

pytestmark = pytest.mark.integration


def test_two_processes_send_every_record_once_in_key_order_and_report_as_one_run(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = [b'{"user": "%s", "seq": %d}' % (b"" if i % 7 == 0 else b"u%d" % (i % 41), i) for i in range(20_000)]
    lines[999] = b'{"user": null, "seq": 999}'  # no key: invalid, reported and dead-lettered once, not by each process
    lines[15_000] = b"not json"
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic_name, 6)
    registry = CollectorRegistry()
    dead = tmp_path / "dead.jsonl"
    cfg = config(path, topic_name, broker.bootstrap, key_field="user", processes=2, chunk_bytes=8192,
                 dead_letter=str(dead))  # fmt: skip
    report = asyncio.run(replay(cfg, registry=registry))
    assert (report.records, report.acknowledged, report.invalid, report.dead_lettered) == (19_998, 19_998, 2, 2)
    assert report.lines == 20_000 and report.exit_code == 0 and report.partitions == 6
    assert sorted(e.split(": ")[0] for e in report.invalid_examples) == [f"{path}:1000", f"{path}:15001"]
    assert sorted(msgspec.json.decode(d)["line"] for d in dead.read_bytes().splitlines()) == [1000, 15001]
    messages = consume(broker.bootstrap, topic_name, 19_998)
    expected = [line for i, line in enumerate(lines) if i not in (999, 15_000)]
    assert collections.Counter(m.value for m in messages) == collections.Counter(expected)
    assert b"" in in_key_order(messages), "per-key order, the empty key too"
    labels = {"topic": topic_name, "mode": "batch"}
    assert registry.get_sample_value("pump_records_acknowledged_total", labels) == 19_998
    assert registry.get_sample_value("pump_records_sent_total", labels) == 19_998
    assert registry.get_sample_value("pump_ack_latency_seconds_count", labels) >= 6  # at least a batch a partition
    assert registry.get_sample_value("pump_invalid_lines_total", {"topic": topic_name, "reason": "json"}) == 1
    assert registry.get_sample_value("pump_input_lines_total", {"topic": topic_name, "format": "jsonl"}) == 40_000
    assert registry.get_sample_value("pump_in_flight_records", labels) == 0


def test_unkeyed_records_go_once_whichever_process_and_wherever_each_resumed(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = keyed_lines(30_000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic_name, 5)
    checkpoint = tmp_path / "cp.json"  # each process starts where its part says: other lines, other chunks
    offsets = [sum(len(line) + 1 for line in lines[:n]) for n in (1000, 4998)]
    parts = [{os.path.abspath(path): _state(path, offsets[i], n + 1)} for i, n in enumerate((1000, 4998))]
    checkpoint.write_bytes(msgspec.json.encode({"topic": topic_name, "processes": 2, "parts": parts}))
    cfg = config(path, topic_name, broker.bootstrap, processes=2, checkpoint=str(checkpoint), chunk_bytes=4096)
    report = asyncio.run(replay(cfg))
    assert report.exit_code == 0
    messages = consume(broker.bootstrap, topic_name, report.acknowledged)
    got = collections.Counter(m.value for m in messages)
    assert max(got.values()) == 1 and len(messages) == report.acknowledged
    # lines 1..1000 were handled by both; 1001..4998 by process 2 only (its partitions 1 and 3); the rest by neither
    first_owns = [i for i in range(1000, 4998) if (i + 1) // LINES_PER_STICKY_BLOCK % 5 % 2 == 0]
    assert set(got) == {lines[i] for i in first_owns} | set(lines[4998:])
    assert len({m.partition for m in messages}) == 5


def _state(path: Path, offset: int, line: int) -> dict[str, object]:
    stat = path.stat()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(64 << 10)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head, "offset": offset, "line": line}


def _replay_in_background(path: Path, topic: str, bootstrap: str, checkpoint: Path, *extra: str) -> subprocess.Popen[bytes]:
    return cli.start("replay", str(path), "--topic", topic, "--bootstrap-servers", bootstrap, "--key-field", "user",
                     "--processes", "2", "--checkpoint", str(checkpoint), "--checkpoint-interval", "0.2",
                     "--max-in-flight", "2000", *extra, start_new_session=True)  # fmt: skip


def _children_once_running(proc: subprocess.Popen[bytes], checkpoint: Path) -> list[psutil.Process]:
    """pump's processes, once both have sent records and saved positions (the checkpoint has both parts)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if checkpoint.exists() and all(msgspec.json.decode(checkpoint.read_bytes()).get("parts", [{}, {}])):
            children = psutil.Process(proc.pid).children()
            assert len(children) == 2
            return children
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the processes never saved positions")


def _gone(pids: list[int]) -> bool:
    return not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def _running(
    broker: Broker, topic: str, tmp_path: Path
) -> tuple[list[bytes], Path, subprocess.Popen[bytes], list[psutil.Process]]:
    """400,000 keyed lines being replayed by ``--processes 2``, both processes past their first checkpoint."""
    lines = keyed_lines(400_000, pad=True)
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic, 4)
    proc = _replay_in_background(path, topic, broker.bootstrap, tmp_path / "cp.json")
    return lines, path, proc, _children_once_running(proc, tmp_path / "cp.json")


def _resumed(path: Path, topic: str, broker: Broker, tmp_path: Path, expected: int) -> list[Any]:
    """The same command again, from the checkpoint; then everything in the topic."""
    again = cli.pump("replay", str(path), "--topic", topic, "--bootstrap-servers", broker.bootstrap, "--key-field", "user",
                     "--processes", "2", "--checkpoint", str(tmp_path / "cp.json"))  # fmt: skip
    assert again.returncode == 0, again.stderr.decode()
    return consume(broker.bootstrap, topic, expected, within=120)


def test_ctrl_c_stops_both_processes_cleanly_and_a_resume_sends_the_rest_exactly_once(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines, path, proc, children = _running(broker, topic_name, tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: to every process of the group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "INTERRUPTED by SIGINT" in out.decode() and "UNSETTLED" not in out.decode() and _gone([c.pid for c in children])
    messages = _resumed(path, topic_name, broker, tmp_path, len(lines))
    assert collections.Counter(m.value for m in messages) == collections.Counter(lines)
    in_key_order(messages)


def test_a_killed_process_fails_the_run_in_one_line_leaves_no_process_and_a_resume_misses_nothing(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines, path, proc, children = _running(broker, topic_name, tmp_path)
    children[1].kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and _gone([c.pid for c in children])
    last = err.decode().strip().splitlines()[-1]
    said = re.search(f"process 2 of 2, pid {children[1].pid} died \\(killed by SIGKILL\\); the ([\\d,]+) records", last)
    assert said and "no known outcome" in last, last
    lost = int(said.group(1).replace(",", ""))
    assert (f"UNSETTLED {lost:,} records" in out.decode()) == (lost > 0), "what it had taken is reported, not dropped"
    messages = _resumed(path, topic_name, broker, tmp_path, len(lines))
    assert {m.value for m in messages} == set(lines), "a record is missing after the resume"


def test_a_checkpoint_of_another_process_count_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(10))
    checkpoint = tmp_path / "cp.json"
    checkpoint.write_bytes(b'{"topic": "t", "processes": 2, "parts": [{}, {}]}')
    proc = cli.pump("replay", str(path), "--topic", "t", "--processes", "3", "--checkpoint", str(checkpoint))
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == [
        f"pump: --checkpoint {checkpoint} was written by a replay in 2 process(es), this one runs 3: each process resumes"
        " from its own positions, so give --processes 2, or add --restart"
    ]


def test_a_cluster_nobody_can_reach_is_one_line_from_the_processes_too(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(10))
    proc = cli.pump("replay", str(path), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1", "--processes", "auto",
                    "--connect-timeout", "2")  # fmt: skip
    assert proc.returncode == 2
    [line] = cli.stderr_lines(proc)
    assert line.startswith("pump: ") and "127.0.0.1:1" in line and "Traceback" not in proc.stderr.decode()
    assert not [p for p in psutil.process_iter(["cmdline"]) if "pump.cli.child" in (p.info["cmdline"] or [])]


def test_ledgers_of_processes_merge_into_the_runs() -> None:
    a, b = Ledger(), Ledger()
    for ledger, records, line in ((a, 7, 3), (b, 5, 9)):
        ledger.lines, ledger.records, ledger.acked, ledger.bytes_acked = 100, records, records, records * 10
        ledger.latency.record(0.010 * line, records)
    a.invalid, a.invalid_by_reason["json"] = 1, 1
    a.invalid_examples.append(Invalid("f", 3, 30, "json", "bad"))
    b.failed_by_reason["timeout"], b.failed = 2, 2
    merged = Ledger()
    wire.merge([wire.snapshot(a), wire.snapshot(b)], merged)
    assert (merged.lines, merged.records, merged.acked, merged.bytes_acked, merged.failed) == (100, 12, 12, 120, 2)
    assert merged.invalid_by_reason == {"json": 1} and merged.failed_by_reason == {"timeout": 2}
    assert [str(i) for i in merged.invalid_examples] == ["f:3: bad"]
    assert merged.latency.count == 12 and merged.latency.max == pytest.approx(0.09)
    assert merged.latency.quantile(0.5) == pytest.approx(0.03, rel=0.03)
