"""Checkpoint and resume: a resume sends exactly what was not handled, and a crash loses nothing."""

from __future__ import annotations

import collections
import gzip
import os
import signal
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from pump import ConfigError, replay
from pump.account import Checkpoint
from pump.account.checkpoint import State
from pump.dev.broker import Broker
from pump.input import FileSource, Position
from tests.support.builders import EXAMPLES, config, write_lines
from tests.support.kafka import consumed, created
from tests.support.resume import interrupt_mid_replay, numbered, resume_and_check

pytestmark = pytest.mark.integration


def write_checkpoint(cp: Path, topic: str, path: Path, offset: int, line: int) -> None:
    checkpoint = Checkpoint(str(cp), topic)
    checkpoint.resume_points([FileSource(str(path), path.stat().st_size)])
    checkpoint.save({str(path): Position(offset, line)})


@pytest.mark.parametrize("compressed", [False, True])
async def test_resume_sends_exactly_the_lines_after_the_checkpoint(
    broker: Broker, topic_name: str, tmp_path: Path, compressed: bool
) -> None:
    lines = numbered(3000)
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / ("in.jsonl.gz" if compressed else "in.jsonl")
    path.write_bytes(gzip.compress(body) if compressed else body)
    offset = len(b"\n".join(lines[:1234])) + 1  # uncompressed offset of line 1235
    cp = tmp_path / "cp.json"
    write_checkpoint(cp, topic_name, path, offset, 1235)
    await created(broker.bootstrap, topic_name, 2)
    cfg = config(path, topic_name, broker.bootstrap, key_field="user", checkpoint=str(cp), chunk_bytes=4096)
    report = await replay(cfg)
    assert report.acknowledged == 3000 - 1234 and report.exit_code == 0
    got = await consumed(broker.bootstrap, topic_name, 3000 - 1234)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines[1234:])
    saved = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert (saved.offset, saved.line, saved.done) == (len(body), 3001, True)
    again = await replay(cfg)  # a finished file is skipped
    assert again.records == 0 and again.exit_code == 0


async def test_resume_rereads_the_csv_header(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    rows = (EXAMPLES / "rides.csv").read_bytes().split(b"\n")
    path = tmp_path / "rides.csv"
    path.write_bytes(b"\n".join(rows))
    offset = len(b"\n".join(rows[:201])) + 1  # the header plus 200 rows are handled
    cp = tmp_path / "cp.json"
    write_checkpoint(cp, topic_name, path, offset, 202)
    cfg = config(path, topic_name, broker.bootstrap, schema="rides", key_field="PULocationID", checkpoint=str(cp),
                 create_topic=True)  # fmt: skip
    report = await replay(cfg)
    assert (report.acknowledged, report.invalid, report.exit_code) == (66, 0, 0)


async def test_a_changed_file_is_refused_unless_restart(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", numbered(100))
    cp = tmp_path / "cp.json"
    write_checkpoint(cp, topic_name, path, 10, 2)
    write_lines(path, numbered(101))
    with pytest.raises(ConfigError, match=r"in\.jsonl: changed since checkpoint\.path .* was written .* add checkpoint\.restart"):
        await replay(config(path, topic_name, broker.bootstrap, checkpoint=str(cp), create_topic=True))
    report = await replay(config(path, topic_name, broker.bootstrap, checkpoint=str(cp), create_topic=True, restart=True))
    assert report.acknowledged == 101


def test_killed_mid_replay_then_resumed_loses_nothing(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    status, _, _, lines, cmd, line = interrupt_mid_replay(broker, topic_name, tmp_path, 300_000, lambda p: p.kill())
    assert status == -signal.SIGKILL
    resume_and_check(broker, topic_name, cmd, lines, line)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_replay_stops_cleanly_with_a_checkpoint_and_resume_completes(
    broker: Broker, topic_name: str, tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    got, out, err, lines, cmd, line = interrupt_mid_replay(broker, topic_name, tmp_path, 400_000, lambda p: p.send_signal(sig))
    assert got == status, out.decode() + err.decode()
    assert f"INTERRUPTED by {sig.name}".encode() in out and b"Traceback" not in err
    assert line > 1000
    resume_and_check(broker, topic_name, cmd, lines, line)


def test_a_second_signal_aborts_at_once_and_the_checkpoint_stays_true(topic_name: str, tmp_path: Path) -> None:
    with Broker() as own:  # its own broker, paused below
        assert own.process is not None
        broker_pid = own.process.pid

        def twice(proc: subprocess.Popen[bytes]) -> None:
            # Pause the broker so the first signal's clean shutdown is certainly still waiting for in-flight
            # records when the second arrives (two signals sent back to back can merge into one).
            os.kill(broker_pid, signal.SIGSTOP)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)

        try:
            status, out, err, lines, cmd, line = interrupt_mid_replay(own, topic_name, tmp_path, 300_000, twice)
        finally:
            os.kill(broker_pid, signal.SIGCONT)
        assert status == 143, out.decode() + err.decode()
        assert b"aborted by a second SIGTERM" in err and b"Traceback" not in err
        resume_and_check(own, topic_name, cmd, lines, line)
