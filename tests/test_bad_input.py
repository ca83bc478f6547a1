"""Inputs that must fail the run cleanly (status 2, one line, no traceback) after delivering what they can."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import msgspec
import pytest

from pump.account.checkpoint import State
from pump.dev.broker import Broker
from tests.support import cli
from tests.support.builders import keyed_lines
from tests.support.kafka import consume

pytestmark = pytest.mark.integration


def test_truncated_gzip_delivers_what_came_before_then_exits_2_with_a_true_checkpoint(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = keyed_lines(200_000, keys=7)
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / "cut.jsonl.gz"
    blob = gzip.compress(body)
    path.write_bytes(blob[: len(blob) * 2 // 3])
    cp, report = tmp_path / "cp.json", tmp_path / "report.json"
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                    "--key-field", "user", "--checkpoint", str(cp), "--report-json", str(report), "--no-progress")  # fmt: skip
    err = cli.stderr_lines(proc)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode(), err
    assert err[-1].startswith(f"pump: {path}:") and "truncated gzip stream" in err[-1]
    state = msgspec.json.decode(cp.read_bytes(), type=State).files[str(path.resolve())]
    assert not state.done and 0 < state.offset < len(body)
    acknowledged = cli.report_of(report)["acknowledged"]
    delivered = consume(broker.bootstrap, topic_name, acknowledged)
    assert len(delivered) == acknowledged > 0
    assert {m.value for m in delivered} >= set(lines[: state.line - 1])  # everything the checkpoint claims is there


def test_unreadable_file_exits_2_naming_it_before_anything_is_sent(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        secret = Path("/proc/sys/vm/drop_caches")  # write-only: open() for reading fails even for root
    else:
        secret = tmp_path / "secret.jsonl"
        secret.write_bytes(b"{}\n")
        secret.chmod(0o000)
    proc = cli.pump(
        "replay", str(secret), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1"
    )  # no broker: fails before connecting
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [f"pump: {secret}: permission denied"]


def test_a_json_array_document_exits_2_in_one_line_with_the_way_to_json_lines(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    path.write_text('[\n  {"id": 1},\n  {"id": 2}\n]\n')  # what most tools call JSON; pump reads JSON lines
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                    "--key-field", "id", "--no-progress")  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert cli.stderr_lines(proc)[-1] == (
        f"pump: {path}:1: a JSON array, not JSON lines: pump reads one JSON object per line (jq -c '.[]' {path} gives them)"
    )
