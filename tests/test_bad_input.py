"""Inputs that must fail the run cleanly (status 2, one line, no traceback) after delivering what they can."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
from pathlib import Path

import msgspec

from pump.broker import Broker
from pump.checkpoint import State
from tests.conftest import consume_all


def pump(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run([sys.executable, "-m", "pump", "replay", *args], capture_output=True, timeout=60, env=env, **kwargs)  # type: ignore[call-overload]


def test_truncated_gzip_delivers_what_came_before_then_exits_2_with_a_true_checkpoint(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = [b'{"user": "u%d", "seq": %d}' % (i % 7, i) for i in range(200_000)]
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / "cut.jsonl.gz"
    blob = gzip.compress(body)
    path.write_bytes(blob[: len(blob) * 2 // 3])
    cp = tmp_path / "cp.json"
    proc = pump(str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--key-field", "user", "--checkpoint", str(cp), "--no-progress")  # fmt: skip
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode(), err
    assert err[-1].startswith(f"pump: {path}:") and "truncated gzip stream" in err[-1]
    state = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert not state.done and 0 < state.offset < len(body)
    acknowledged = int(proc.stdout.decode().split(" acknowledged")[0].rsplit(" ", 1)[-1].replace(",", ""))
    delivered = asyncio.run(consume_all(broker.bootstrap, topic_name, acknowledged))
    assert {m.value for m in delivered} >= set(lines[: state.line - 1])  # everything the checkpoint claims is there


def test_header_only_csv_and_empty_file_succeed_with_zero_records(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("VendorID,PULocationID\r\n")
    (tmp_path / "e.jsonl").write_bytes(b"")
    proc = pump(str(tmp_path / "h.csv"), str(tmp_path / "e.jsonl"), "--topic", topic_name, "--bootstrap-servers",
                broker.bootstrap, "--create-topic")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"0 decoded" in proc.stdout


def test_unreadable_file_exits_2_naming_it_before_anything_is_sent(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        secret = Path("/proc/sys/vm/drop_caches")  # write-only: open() for reading fails even for root
    else:
        secret = tmp_path / "secret.jsonl"
        secret.write_bytes(b"{}\n")
        secret.chmod(0o000)
    proc = pump(str(secret), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1")  # no broker: must fail before connecting
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and err == [f"pump: {secret}: permission denied"], err
