"""``--follow`` and ``--watch`` as users run them: real pump processes on real files a writer changes meanwhile, into a
real broker (Tansu; Apache Kafka where a run is killed and must resume exactly once)."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import threading
import time
from pathlib import Path

import msgspec
import pytest

from pump.dev.broker import Broker
from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.kafka import consume, create_topic

pytestmark = pytest.mark.integration

COMMITTED = {"isolation.level": "read_committed"}


def line(n: int, **more: object) -> bytes:
    return msgspec.json.encode({"n": n, "t": time.time(), **more}) + b"\n"


def until(condition: object, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def numbers(messages: list) -> list[int]:
    return [msgspec.json.decode(m.value)["n"] for m in sorted(messages, key=lambda m: m.offset)]


def test_a_followed_file_written_at_1000_lines_a_second_is_sent_as_it_grows(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap, topic_name, 1)
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    total = 10_000
    with cli.start("replay", "--follow", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                   "--no-progress", "--idle-exit", "2") as proc:  # fmt: skip
        time.sleep(1.0)  # connected and at the file's end
        with open(path, "ab", buffering=0) as f:
            start = time.monotonic()
            for n in range(total):  # 1,000 lines a second, a line at a time, on schedule
                wait = start + n / 1000 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                f.write(line(n))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode() + err.decode()
    got = consume(broker.bootstrap, topic_name, total)
    assert numbers(got) == list(range(total))
    delays = sorted(m.timestamp / 1000 - msgspec.json.decode(m.value)["t"] for m in got)
    p50, p99 = statistics.median(delays), delays[int(len(delays) * 0.99)]
    print(f"write -> Kafka timestamp: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms")
    assert delays[-1] < 1.0, (p50, p99, delays[-1])  # held for a chunk's worth it would be seconds (10 s of lines a MiB)


def test_rotation_by_rename_and_by_copy_truncate_then_sigint_and_resume_sends_every_line_once_in_order(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap, topic_name, 1)
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    checkpoint = tmp_path / "cp.json"
    args = ("replay", "--follow", str(log), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
            "--no-progress", "--checkpoint", str(checkpoint), "--checkpoint-interval", "0.5")  # fmt: skip
    written = 0
    stop = threading.Event()
    lock = threading.Lock()

    def write(count: int, rate: float = 500) -> None:
        nonlocal written
        for _ in range(count):
            with lock, open(log, "ab") as f:
                f.write(line(written))
                written += 1
            time.sleep(1 / rate)

    with cli.start(*args) as proc:
        time.sleep(1.0)
        write(500)
        with lock:
            os.rename(log, tmp_path / "app.log.1")  # rotated by rename, in the middle of writing
            log.write_bytes(b"")
        write(500)
        time.sleep(0.5)  # copy-truncate loses what comes between its copy and its truncation: none here
        with lock:
            shutil.copy(log, tmp_path / "app.log.2")
            os.truncate(log, 0)
        write(500)
        proc.send_signal(signal.SIGINT)
        write(300)  # while pump stops and is stopped
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out.decode() + err.decode()
    with lock:
        os.rename(log, tmp_path / "app.log.3")  # rotated while pump was stopped: its rest is finished first
        log.write_bytes(b"")
    write(200)
    stop.set()
    again = cli.pump(*args, "--idle-exit", "2", timeout=120)
    assert again.returncode == 0, again.stdout.decode() + again.stderr.decode()
    assert numbers(consume(broker.bootstrap, topic_name, written)) == list(range(written))


def test_a_watched_folder_killed_halfway_resumes_with_every_record_of_every_file_once(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    create_topic(kafka.bootstrap, topic_name, 2)
    args = ("replay", "--watch", str(landing), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap,
            "--no-progress", "--exactly-once", "--poll-interval", "0.2", "--transaction-ms", "200")  # fmt: skip
    records = 0

    def publish(i: int, slowly: bool = False) -> None:
        nonlocal records
        temporary = landing / f"part-{i:03}.jsonl.tmp"
        with open(temporary, "wb") as f:
            for j in range(1000):
                f.write(line(records + j, file=i))
                if slowly and j % 250 == 0:
                    f.flush()
                    time.sleep(0.1)  # a slow writer: the .tmp name is never read
        records += 1000
        os.rename(temporary, landing / f"part-{i:03}.jsonl")

    (landing / "_SUCCESS").write_bytes(b"not records")
    (landing / ".hidden.jsonl").write_bytes(b'{"hidden": true}\n')
    with cli.start(*args) as proc:
        for i in range(10):
            publish(i, slowly=i % 3 == 0)
        until(lambda: len(consume(kafka.bootstrap, topic_name, 1, within=1, settle=0, **COMMITTED)) > 0)
        proc.kill()  # SIGKILL: no chance to settle or commit anything more
        proc.communicate()
    for i in range(10, 20):
        publish(i, slowly=i % 3 == 0)
    again = cli.pump(*args, "--idle-exit", "3", timeout=180)
    assert again.returncode == 0, again.stdout.decode() + again.stderr.decode()
    got = consume(kafka.bootstrap, topic_name, records, **COMMITTED)
    values = [msgspec.json.decode(m.value) for m in got]
    assert sorted(v["n"] for v in values) == list(range(records))  # each once; nothing hidden or unfinished


def test_what_cannot_be_followed_or_watched_is_one_line_and_exit_2(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"{}\n")
    common = ("--topic", "t", "--bootstrap-servers", "localhost:1")
    cases = {
        ("--follow", "-"): "stdin ('-') is sent as it arrives already",
        ("--watch", str(one)): "not a folder or glob: --watch looks for new files in one",
        ("--follow", str(tmp_path / "*.csv")): "matches no file",
    }
    for args, message in cases.items():
        proc = cli.pump("replay", *args, *common)
        lines = cli.stderr_lines(proc)
        assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], (args, lines)
