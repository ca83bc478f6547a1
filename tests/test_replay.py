"""Integration: real replays into a real broker (Tansu), checked by consuming the topic back."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from pump.broker import Broker, free_port
from pump.config import ReplayConfig
from pump.errors import TopicError
from pump.partition import java_partition
from pump.pipeline import replay
from tests.conftest import consume_all, create_topic

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODES = ["batch", "callback", "sync"]
PARTITIONS = 4


def write_keyed_jsonl(path: Path, n: int, keys: int = 37) -> list[bytes]:
    lines = [msgspec.json.encode({"user": f"u{i % keys}", "seq": i, "pad": "x" * (i % 50)}) for i in range(n)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def check_partitions_and_order(messages: list, key_of: str = "user") -> None:
    last_seq: dict[bytes, int] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        assert m.partition == java_partition(m.key, PARTITIONS), f"key {m.key!r} on the wrong partition"
        seq = msgspec.json.decode(m.value)["seq"]
        assert seq > last_seq.get(m.key, -1), f"key {m.key!r} out of order"
        last_seq[m.key] = seq


@pytest.mark.parametrize("mode", MODES)
async def test_every_mode_delivers_exact_records_on_java_partitions_in_key_order(
    broker: Broker, topic_name: str, tmp_path: Path, mode: str
) -> None:
    n = 600 if mode == "sync" else 5000
    lines = write_keyed_jsonl(tmp_path / "in.jsonl", n)
    await create_topic(broker.bootstrap, topic_name, PARTITIONS)
    config = ReplayConfig(
        paths=(str(tmp_path / "in.jsonl"),),
        topic=topic_name,
        bootstrap_servers=broker.bootstrap,
        key_field="user",
        mode=mode,
        chunk_bytes=4096,  # many chunks, so workers and the sequencer really interleave
        workers=3,
        max_in_flight=500,
        progress=False,
    )
    report = await replay(config)
    got = await consume_all(broker.bootstrap, topic_name, n)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    check_partitions_and_order(got)
    assert (report.records, report.sent, report.acknowledged, report.failed, report.invalid) == (n, n, n, 0, 0)
    assert report.exit_code == 0 and report.unsettled == 0
    assert report.bytes_acknowledged == sum(len(x) for x in lines)


@pytest.mark.parametrize("keyed", [True, False])
async def test_decoding_in_processes_delivers_the_same_records_in_key_order(
    broker: Broker, topic_name: str, tmp_path: Path, keyed: bool
) -> None:
    lines = write_keyed_jsonl(tmp_path / "in.jsonl", 4000)
    await create_topic(broker.bootstrap, topic_name, PARTITIONS)
    config = ReplayConfig(
        paths=(str(tmp_path / "in.jsonl"),),
        topic=topic_name,
        bootstrap_servers=broker.bootstrap,
        key_field="user" if keyed else None,
        decode_processes=2,
        chunk_bytes=8192,
        progress=False,
    )
    report = await replay(config)
    got = await consume_all(broker.bootstrap, topic_name, len(lines))
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    assert (report.records, report.acknowledged, report.exit_code) == (4000, 4000, 0)
    if keyed:
        check_partitions_and_order(got)
    else:
        assert len({m.partition for m in got}) == PARTITIONS  # unkeyed records spread over every partition


@pytest.mark.parametrize("mode", MODES)
async def test_rides_sample_round_trips_with_the_rides_schema(broker: Broker, topic_name: str, mode: str) -> None:
    config = ReplayConfig(
        paths=(str(EXAMPLES / "rides.csv"),),
        topic=topic_name,
        bootstrap_servers=broker.bootstrap,
        schema="rides",
        key_field="PULocationID",
        mode=mode,
        create_topic=True,
        partitions=PARTITIONS,
        progress=False,
    )
    report = await replay(config)
    got = await consume_all(broker.bootstrap, topic_name, 266)
    assert report.acknowledged == len(got) == 266 and report.exit_code == 0
    import csv

    rows = list(csv.DictReader((EXAMPLES / "rides.csv").read_text().splitlines()))
    values = [msgspec.json.decode(m.value) for m in got]
    assert sorted((v["tpep_pickup_datetime"], v["PULocationID"], v["total_amount"]) for v in values) == sorted(
        (r["tpep_pickup_datetime"].replace(" ", "T"), int(r["PULocationID"]), float(r["total_amount"])) for r in rows
    )
    for m in got:
        assert m.key == str(msgspec.json.decode(m.value)["PULocationID"]).encode()
        assert m.partition == java_partition(m.key, PARTITIONS)


async def test_invalid_lines_are_skipped_and_reported_while_every_valid_line_is_delivered(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    good = [b'{"user": "a", "seq": 1}', b'{"user": "b", "seq": 2}', b'{"user": "a", "seq": 3}']
    body = b"\n".join([good[0], b'{"user": "a", "seq": ', b'{"seq": 9}', good[1], b"[1]", b'{"user": null}', good[2]])
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(body)
    csv_path = tmp_path / "rides.csv"
    rows = (EXAMPLES / "rides.csv").read_text().splitlines()
    rows[3] = rows[3].replace("2020-07-01", "not-a-date", 1)  # wrong type for the schema, line 4
    rows[5] = rows[5] + ",extra"  # wrong column count, line 6
    csv_path.write_text("\n".join(rows) + "\n")
    await create_topic(broker.bootstrap, topic_name, PARTITIONS)
    report = await replay(
        ReplayConfig(paths=(str(path),), topic=topic_name, bootstrap_servers=broker.bootstrap, key_field="user", progress=False)
    )
    assert report.exit_code == 1
    assert (report.acknowledged, report.invalid) == (3, 4)
    assert report.invalid_by_reason == {"json": 1, "key": 2, "not_object": 1}
    assert [e.split(": ")[0] for e in report.invalid_examples] == [f"{path}:{n}" for n in (2, 3, 5, 6)]
    report2 = await replay(
        ReplayConfig(
            paths=(str(csv_path),),
            topic=topic_name,
            bootstrap_servers=broker.bootstrap,
            key_field="PULocationID",
            schema="rides",
            progress=False,
        )
    )
    assert (report2.acknowledged, report2.invalid) == (264, 2)
    assert [e.split(": ")[0] for e in report2.invalid_examples] == [f"{csv_path}:4", f"{csv_path}:6"]
    got = await consume_all(broker.bootstrap, topic_name, 3 + 264)
    assert len(got) == 267
    assert set(good) <= {m.value for m in got}


async def test_max_errors_stops_the_run_cleanly(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join([b'{"user":"a","seq":1}'] + [b"not json"] * 5000))
    report = await replay(
        ReplayConfig(
            paths=(str(path),),
            topic=topic_name,
            bootstrap_servers=broker.bootstrap,
            create_topic=True,
            max_errors=3,
            chunk_bytes=64,  # a few lines per chunk, so stopping early is visible
            progress=False,
        )
    )
    assert report.exit_code == 1 and report.aborted and report.unsettled == 0
    assert report.acknowledged == 1  # the valid line read before the limit is still delivered
    assert 3 < report.invalid < 200  # stopped soon after the limit, not after reading all 5000
    assert len(await consume_all(broker.bootstrap, topic_name, 1)) == 1


async def test_missing_topic_without_create_topic_is_a_clear_error(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(TopicError, match=r"does not exist.*--create-topic"):
        await replay(ReplayConfig(paths=(str(path),), topic=topic_name, bootstrap_servers=broker.bootstrap, progress=False))


async def test_empty_file_and_header_only_csv_succeed_with_zero_records(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "header.csv").write_bytes(b"a,b,c\r\n")
    report = await replay(
        ReplayConfig(
            paths=(str(tmp_path / "empty.jsonl"), str(tmp_path / "header.csv")),
            topic=topic_name,
            bootstrap_servers=broker.bootstrap,
            create_topic=True,
            progress=False,
        )
    )
    assert (report.records, report.exit_code, report.files) == (0, 0, 2)


def run_cli(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run([sys.executable, "-m", "pump", *args], input=stdin, capture_output=True, timeout=timeout, env=env)


def test_cli_replays_stdin_gzip_and_writes_a_json_report(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    import gzip

    lines = write_keyed_jsonl(tmp_path / "a.jsonl", 300)
    gz = tmp_path / "b.data"
    gz.write_bytes(gzip.compress((tmp_path / "a.jsonl").read_bytes()))
    report_path = tmp_path / "report.json"
    proc = run_cli(
        "replay", "-", str(gz), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
        "--partitions", str(PARTITIONS), "--key-field", "user", "--report-json", str(report_path), "--loop", "asyncio",
        stdin=(tmp_path / "a.jsonl").read_bytes(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    report = msgspec.json.decode(report_path.read_bytes())
    assert report["acknowledged"] == 600 and report["files"] == 2
    assert b"every record acknowledged" in proc.stdout
    import asyncio

    got = asyncio.run(consume_all(broker.bootstrap, topic_name, 600))
    assert collections.Counter(m.value for m in got) == collections.Counter(lines * 2)


def test_unreachable_broker_exits_2_with_one_line_quickly(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(b"{}\n")
    start = time.monotonic()
    proc = run_cli("replay", str(tmp_path / "x.jsonl"), "--topic", "t", "--bootstrap-servers", f"127.0.0.1:{free_port()}")
    assert proc.returncode == 2
    assert time.monotonic() - start < 15
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pump: cannot use Kafka at 127.0.0.1:"), err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope.jsonl"], "pump: nope.jsonl: no such file"),
        (["."], "is a directory"),
        (["x.jsonl", "--schema", "nosuchmodule:Thing"], "cannot import 'nosuchmodule'"),
        (["x.jsonl", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "x.jsonl").write_bytes(b"{}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pump", "replay", *args, "--topic", "t", "--bootstrap-servers", "127.0.0.1:1"],
        capture_output=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def test_csv_header_that_does_not_fit_the_schema_exits_2_naming_file_and_line(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    proc = run_cli("replay", str(tmp_path / "bad.csv"), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                   "--create-topic", "--schema", "rides")  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err
    assert f"{tmp_path / 'bad.csv'}:1: CSV header lacks column(s) tpep_pickup_datetime" in err


def test_idempotence_refused_by_the_broker_is_a_clear_error_naming_the_flag(broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(b"{}\n")
    proc = run_cli("replay", str(tmp_path / "x.jsonl"), "--topic", "t", "--bootstrap-servers", broker.bootstrap, "--idempotence")
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, err
    assert "refused the idempotent producer (--idempotence)" in err[0]


def test_broker_command_serves_until_signalled() -> None:
    port = free_port()
    with subprocess.Popen([sys.executable, "-m", "pump", "broker", "--port", str(port)], stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            assert f"127.0.0.1:{port}" in line
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
