"""Checkpoint and resume: a resume sends exactly what was not handled, and a crash loses nothing."""

from __future__ import annotations

import collections
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from pump.broker import Broker
from pump.checkpoint import Checkpoint, State
from pump.completion import Position
from pump.config import ReplayConfig
from pump.errors import UsageError
from pump.pipeline import replay
from pump.source import InputFile
from tests.conftest import consume_all, create_topic

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def numbered(n: int) -> list[bytes]:
    return [b'{"user": "u%d", "seq": %d}' % (i % 13, i) for i in range(n)]


def write_checkpoint(cp: Path, topic: str, path: Path, offset: int, line: int) -> None:
    checkpoint = Checkpoint(str(cp), topic)
    checkpoint.resume_points([InputFile(str(path), path.stat().st_size)])
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
    await create_topic(broker.bootstrap, topic_name, 2)
    config = ReplayConfig(
        paths=(str(path),), topic=topic_name, bootstrap_servers=broker.bootstrap, key_field="user",
        checkpoint=str(cp), chunk_bytes=4096, progress=False,
    )  # fmt: skip
    report = await replay(config)
    assert report.acknowledged == 3000 - 1234 and report.exit_code == 0
    got = await consume_all(broker.bootstrap, topic_name, 3000 - 1234)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines[1234:])
    saved = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert (saved.offset, saved.line, saved.done) == (len(body), 3001, True)
    again = await replay(config)  # a finished file is skipped
    assert again.records == 0 and again.exit_code == 0


async def test_resume_rereads_the_csv_header(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    rows = (EXAMPLES / "rides.csv").read_bytes().split(b"\n")
    path = tmp_path / "rides.csv"
    path.write_bytes(b"\n".join(rows))
    offset = len(b"\n".join(rows[:201])) + 1  # the header plus 200 rows are handled
    cp = tmp_path / "cp.json"
    write_checkpoint(cp, topic_name, path, offset, 202)
    config = ReplayConfig(
        paths=(str(path),), topic=topic_name, bootstrap_servers=broker.bootstrap, schema="rides", key_field="PULocationID",
        checkpoint=str(cp), create_topic=True, progress=False,
    )  # fmt: skip
    report = await replay(config)
    assert (report.acknowledged, report.invalid, report.exit_code) == (66, 0, 0)


async def test_a_changed_file_is_refused_unless_restart(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(numbered(100)) + b"\n")
    cp = tmp_path / "cp.json"
    write_checkpoint(cp, topic_name, path, 10, 2)
    path.write_bytes(b"\n".join(numbered(101)) + b"\n")
    config = ReplayConfig(
        paths=(str(path),), topic=topic_name, bootstrap_servers=broker.bootstrap, checkpoint=str(cp), create_topic=True,
        progress=False,
    )  # fmt: skip
    with pytest.raises(UsageError, match=r"in\.jsonl: changed since checkpoint .*--restart"):
        await replay(config)
    report = await replay(msgspec.structs.replace(config, restart=True))
    assert report.acknowledged == 101


def test_killed_mid_replay_then_resumed_loses_nothing(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    n = 300_000
    lines = numbered(n)
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cp = tmp_path / "cp.json"
    cmd = [sys.executable, "-m", "pump", "replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
           "--create-topic", "--partitions", "4", "--key-field", "user", "--checkpoint", str(cp), "--checkpoint-interval", "0.1",
           "--max-in-flight", "5000", "--no-progress"]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as first:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it once it has checkpointed some progress
            if cp.exists() and msgspec.json.decode(cp.read_bytes(), type=State).files.get(str(path.resolve()), None):
                state = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
                if state.line > 1000:
                    break
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    at_kill = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert not at_kill.done, "the first run finished before it was killed: make the input bigger"
    second = subprocess.run(cmd, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr.decode()
    got = collections.Counter(
        m.value for m in __import__("asyncio").run(consume_all(broker.bootstrap, topic_name, n, within=120))
    )
    missing = [v for v in lines if v not in got]
    assert not missing, f"{len(missing)} records lost, e.g. {missing[:3]}"
    duplicated = [msgspec.json.decode(v)["seq"] for v, c in got.items() if c > 1]
    assert all(seq + 1 >= at_kill.line for seq in duplicated), "a line before the checkpoint was sent twice"
    assert all(c <= 2 for c in got.values())
