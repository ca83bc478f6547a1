"""A CLI replay with a checkpoint, stopped mid-way (killed, signalled), then resumed: what the checkpoint tests on
Tansu and on Apache Kafka share."""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec

from pump.account.checkpoint import State
from tests.support import cli
from tests.support.builders import keyed_lines, write_lines
from tests.support.kafka import consume


class Bootstrap(Protocol):
    """Anything with a bootstrap address: the embedded broker, an Apache Kafka cluster."""

    @property
    def bootstrap(self) -> str: ...


def numbered(n: int) -> list[bytes]:
    return keyed_lines(n, keys=13)


def replay_args(path: Path, topic: str, broker: Bootstrap, cp: Path) -> list[str]:
    return ["replay", str(path), "--topic", topic, "--bootstrap-servers", broker.bootstrap, "--create-topic", "--partitions", "4",
            "--key-field", "user", "--checkpoint", str(cp), "--checkpoint-interval", "0.1", "--max-in-flight", "5000",
            "--no-progress"]  # fmt: skip


def wait_for_progress(cp: Path, path: Path, proc: subprocess.Popen[bytes], min_line: int = 1000) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if cp.exists():
            state = msgspec.json.decode(cp.read_bytes(), type=State).files.get(str(path.resolve()))
            if state is not None and state.line > min_line:
                return
        time.sleep(0.02)


def check_resumed(broker: Bootstrap, topic: str, lines: list[bytes], first_checkpoint_line: int) -> None:
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic, len(lines), within=120))
    missing = [v for v in lines if v not in got]
    assert not missing, f"{len(missing)} records lost, e.g. {missing[:3]}"
    duplicated = [msgspec.json.decode(v)["seq"] for v, c in got.items() if c > 1]
    assert all(seq + 1 >= first_checkpoint_line for seq in duplicated), "a line before the checkpoint was sent twice"
    assert all(c <= 2 for c in got.values())


def interrupt_mid_replay(
    broker: Bootstrap, topic: str, tmp_path: Path, n: int, interrupt: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[int, bytes, bytes, list[bytes], list[str], int]:
    """Start a CLI replay with a checkpoint, ``interrupt`` it once it has checkpointed progress.

    Returns its status, stdout, stderr, the input lines, the arguments, and the checkpoint's line at the stop.
    """
    lines = numbered(n)
    path = write_lines(tmp_path / "big.jsonl", lines)
    cp = tmp_path / "cp.json"
    cmd = replay_args(path, topic, broker, cp)
    with cli.start(*cmd) as first:
        wait_for_progress(cp, path, first)
        interrupt(first)
        out, err = first.communicate(timeout=60)
    state = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert not state.done, "the first run finished before it was interrupted: make the input bigger"
    return first.returncode, out, err, lines, cmd, state.line


def resume_and_check(broker: Bootstrap, topic: str, cmd: list[str], lines: list[bytes], checkpoint_line: int) -> None:
    second = cli.pump(*cmd)
    assert second.returncode == 0, second.stdout.decode() + second.stderr.decode()
    check_resumed(broker, topic, lines, checkpoint_line)
