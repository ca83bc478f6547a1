"""--rate and --limit: the pacing schedule on a fake clock, and chunks cut at a record."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from pump import replay
from pump.dev.broker import Broker
from pump.pace import RateLimit
from pump.testing import MemoryCluster
from tests.support import cli
from tests.support.builders import FakeClock, chunk, config, keyed_lines, write_lines
from tests.support.kafka import consume, create_topic


async def test_pieces_go_on_a_schedule_so_lateness_never_adds_up() -> None:
    clock = FakeClock()
    rate = RateLimit(1000, clock=clock, sleep=clock.sleep)
    assert rate.piece == 20  # 20 ms of records
    halted = asyncio.Event()
    for _ in range(50):
        await rate.wait(20, halted)
        clock.now += 0.003  # each piece's sending takes 3 ms: the next sleep is shorter, not the schedule later
    assert clock.now == pytest.approx(100.0 + 49 * 0.020 + 0.003)
    assert all(s == pytest.approx(0.017) for s in clock.slept)


async def test_a_stall_moves_the_schedule_on_instead_of_a_burst() -> None:
    clock = FakeClock()
    rate = RateLimit(100, clock=clock, sleep=clock.sleep)
    halted = asyncio.Event()
    await rate.wait(10, halted)
    clock.now += 5.0  # the broker stalled for 5 s
    await rate.wait(10, halted)  # late by 4.9 s: goes now, and the schedule moves on
    await rate.wait(10, halted)
    assert rate.schedule.shifted == pytest.approx(4.9) and clock.slept == [pytest.approx(0.1)], "no catching up after a stall"
    assert rate.summary()[3] == pytest.approx(4900, rel=0.03)


async def test_a_halt_ends_a_long_wait_at_once() -> None:
    rate = RateLimit(0.01)  # a record every 100 s
    halted = asyncio.Event()
    await rate.wait(1, halted)
    asyncio.get_running_loop().call_later(0.05, halted.set)
    await asyncio.wait_for(rate.wait(1, halted), 10)


@pytest.mark.parametrize(
    ("data", "n", "head", "found"),
    [
        (b"a\nb\nc\n", 2, b"a\nb\n", 2),
        (b"a\nb\nc", 3, b"a\nb\nc", 3),  # the last line without a newline
        (b"a\nb\n", 5, b"a\nb\n", 2),
        (b'"x\ny",1\nz,2\n', 1, b'"x\ny",1\n', 1),  # CSV: a quoted newline is inside the row
    ],
)
def test_split_cuts_after_whole_records(data: bytes, n: int, head: bytes, found: int) -> None:
    header = ("a", "b") if data.startswith(b'"') else None
    c = chunk(data, header=header, first_line=10, offset=1000)
    first, rest, count = c.split(n)
    assert (first.data, count) == (head, found)
    if rest is not None:
        assert first.data + rest.data == data
        assert (rest.first_line, rest.offset) == (10 + head.count(b"\n"), 1000 + len(head))
        assert first.lines + rest.lines == c.lines


def test_limit_replays_the_first_n_records_across_files_and_checkpoints_there(tmp_path: Path) -> None:
    lines = keyed_lines(5000)
    a = write_lines(tmp_path / "a.jsonl", lines[:3000])
    b = write_lines(tmp_path / "b.jsonl", lines[3000:])
    cluster = MemoryCluster(partitions=2)
    checkpoint = tmp_path / "cp.json"
    report = asyncio.run(replay(config([a, b], "t", key_field="user", limit=3500, chunk_bytes=1000,
                                       checkpoint=str(checkpoint)), cluster=cluster))  # fmt: skip
    assert report.exit_code == 0 and report.records == 3500
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines[:3500])
    again = asyncio.run(replay(config([a, b], "t", key_field="user", checkpoint=str(checkpoint)), cluster=cluster))
    assert again.records == 1500, "a resume after --limit goes on from the next record"
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines)


@pytest.mark.integration
def test_a_paced_replay_sends_at_its_rate_and_a_first_sigint_stops_it_at_once(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(100_000))
    create_topic(broker.bootstrap, topic_name, 2)
    args = ["replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user",
            "--rate", "200", "--checkpoint", str(tmp_path / "cp.json"), "--report-json", str(tmp_path / "r.json")]  # fmt: skip
    proc = cli.start(*args)
    time.sleep(3)  # 100,000 records at 200 a second would take 500 s
    stopped = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    report = cli.report_of(tmp_path / "r.json")
    assert time.monotonic() - stopped < 10 and 200 <= report["acknowledged"] <= 1000, report
    assert report["pacing"]["rate"] == 200 and report["unsettled"] == 0
    assert "paced     at most 200 records/s" in out.decode()
    messages = consume(broker.bootstrap, topic_name, report["acknowledged"])
    assert sorted(m.value for m in messages) == sorted(keyed_lines(100_000)[: report["acknowledged"]])


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
def test_headers_given_go_on_every_record_in_every_mode(broker: Broker, topic_name: str, tmp_path: Path, mode: str) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(300))
    create_topic(broker.bootstrap, topic_name, 2)
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--mode", mode,
                    "--header", "source=tlc", "--header", "run = 7", "--source-headers")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    messages = consume(broker.bootstrap, topic_name, 300)
    assert len(messages) == 300
    for m in messages:  # the given ones, then where the record came from
        line = msgspec.json.decode(m.value)["seq"] + 1
        assert m.headers == (("source", b"tlc"), ("run", b"7"), ("pump.file", str(path).encode()), ("pump.line", b"%d" % line))
    bad = cli.pump("replay", str(path), "--topic", topic_name, "--header", "novalue")
    assert bad.returncode == 2 and cli.stderr_lines(bad)[-1] == "pump: --header 'novalue': expected KEY=VALUE"


def test_a_paced_replay_shows_its_rate_and_lag_in_the_metrics(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(300))
    registry = CollectorRegistry()
    report = asyncio.run(replay(config(path, "t", rate=2000), cluster=MemoryCluster(partitions=2), registry=registry))
    assert report.acknowledged == 300 and report.pacing is not None
    labels = {"topic": "t"}
    assert registry.get_sample_value("pump_rate_limit_records_per_second", labels) == 2000
    assert registry.get_sample_value("pump_pacing_lag_seconds_count", labels) == 8  # pieces of 20 ms: 40 records, 8 pieces
