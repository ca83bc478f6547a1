"""The command line as a user meets it: real processes, their output and exit status."""

from __future__ import annotations

import collections
import gzip
import time
from pathlib import Path

import pytest

from pump.dev.broker import Broker, free_port
from tests.support import cli
from tests.support.builders import keyed_lines, write_lines
from tests.support.kafka import consume

pytestmark = pytest.mark.integration


def test_stdin_and_gzip_in_one_run_with_a_json_report(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    lines = keyed_lines(300, pad=True)
    plain = write_lines(tmp_path / "a.jsonl", lines)
    gz = tmp_path / "b.data"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    report = tmp_path / "report.json"
    proc = cli.pump("replay", "-", str(gz), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                    "--partitions", "4", "--key-field", "user", "--report-json", str(report), "--loop", "asyncio",
                    stdin=plain.read_bytes())  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert (cli.report_of(report)["acknowledged"], cli.report_of(report)["files"]) == (600, 2)
    assert proc.stdout.decode().splitlines()[0] == f"pump replay -> topic '{topic_name}' (4 partitions), mode batch"
    assert b"every record acknowledged" in proc.stdout
    got = consume(broker.bootstrap, topic_name, 600)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines * 2)


def test_header_only_csv_and_empty_file_succeed_with_zero_records(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("VendorID,PULocationID\r\n")
    (tmp_path / "e.jsonl").write_bytes(b"")
    report = tmp_path / "r.json"
    proc = cli.pump("replay", str(tmp_path / "h.csv"), str(tmp_path / "e.jsonl"), "--topic", topic_name, "--bootstrap-servers",
                    broker.bootstrap, "--create-topic", "--report-json", str(report))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert {k: cli.report_of(report)[k] for k in ("files", "lines", "records", "sent")} == {
        "files": 2,
        "lines": 0,
        "records": 0,
        "sent": 0,
    }
    assert f"topic '{topic_name}' (1 partition), mode batch" in proc.stdout.decode()


def test_an_unreachable_broker_exits_2_with_one_line_quickly(tmp_path: Path) -> None:
    write_lines(tmp_path / "x.jsonl", [b"{}"])
    start = time.monotonic()
    port = free_port()
    proc = cli.pump("replay", str(tmp_path / "x.jsonl"), "--topic", "t", "--bootstrap-servers", f"127.0.0.1:{port}")
    assert proc.returncode == 2 and time.monotonic() - start < 15
    assert cli.stderr_lines(proc) == [
        f"pump: cannot use Kafka at 127.0.0.1:{port}: connection refused: is a broker listening there?"
    ]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nope.jsonl"], "pump: nope.jsonl: no such file"),
        (["*.csv"], "pump: *.csv: matches no file"),
        (["x.jsonl", "--value-format", "avro"], "pump: --value-format avro needs --schema-registry: the registry's URL"),
        (["x.jsonl", "--schema", "nosuchmodule:Thing"], "pump: --schema 'nosuchmodule:Thing': cannot import 'nosuchmodule'"),
        (["x.jsonl", "--workers", "0"], "pump: --workers must be at least 1"),
        (["x.jsonl", "--linger-ms", "-5"], "pump: --linger-ms must not be negative"),
        (["x.jsonl", "-X", "request_timeout_ms=2000", "--delivery-timeout", "120"],
         "pump: -X request_timeout_ms=2000 sets what --delivery-timeout sets; use --delivery-timeout"),
        (["x.jsonl", "-X", "acks=0"], "pump: -X acks=0 sets what --acks sets; use --acks"),
        (["x.jsonl", "-X", "no_such_option=1"], "pump: -X: not an aiokafka producer argument"),
        (["x.jsonl", "--key-field", "id", "--schema", "rides"], "pump: --key-field 'id' is not a field of schema Ride"),
        (["x.jsonl", "--exactly-once", "--acks", "1"],
         "pump: --exactly-once needs --acks all and the idempotent producer (--idempotence auto or on)"),
        (["x.jsonl", "--exactly-once", "--idempotence", "off"], "pump: --exactly-once needs --acks all"),
        (["x.jsonl", "--exactly-once", "--checkpoint", "c.json"], "pump: --exactly-once keeps its positions in Kafka"),
    ],
)  # fmt: skip
def test_user_mistakes_exit_2_with_one_line_naming_the_flag(tmp_path: Path, args: list[str], said: str) -> None:
    write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump("replay", *args, "--topic", "t", "--bootstrap-servers", "127.0.0.1:1", cwd=tmp_path)
    assert proc.returncode == 2
    [line] = cli.stderr_lines(proc)
    assert line.startswith(said), line


@pytest.mark.parametrize("command", ["replay", "verify"])
def test_exactly_once_into_the_embedded_broker_and_verify_of_it_are_refused_in_one_line(tmp_path: Path, command: str) -> None:
    write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump(command, "x.jsonl", "--topic", "t", "--bootstrap-servers", "embedded", "--exactly-once", cwd=tmp_path)
    assert proc.returncode == 2
    [line] = cli.stderr_lines(proc)
    assert (
        line
        == {
            "replay": "pump: --exactly-once needs Kafka's transactions, which the embedded broker (Tansu) does not have: give"
            " --bootstrap-servers a Kafka cluster",
            "verify": "pump: --bootstrap-servers embedded starts an empty broker of its own: give verify the cluster the replay"
            " wrote to",
        }[command]
    )


def test_exactly_once_into_a_broker_without_transactions_is_one_line(broker: Broker, tmp_path: Path) -> None:
    write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump("replay", str(tmp_path / "x.jsonl"), "--topic", "t", "--bootstrap-servers", broker.bootstrap,
                    "--exactly-once", "--create-topic")  # fmt: skip
    assert proc.returncode == 2
    [line] = cli.stderr_lines(proc)
    assert line.startswith(f"pump: the broker at {broker.bootstrap} refused a transactional producer (--exactly-once): "), line


def test_csv_header_that_does_not_fit_the_schema_exits_2_naming_file_and_line(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    proc = cli.pump("replay", str(tmp_path / "bad.csv"), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                    "--create-topic", "--schema", "rides")  # fmt: skip
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == [f"pump: {tmp_path / 'bad.csv'}:1: CSV header lacks column(s) tpep_pickup_datetime,"
                                      " tpep_dropoff_datetime, trip_distance, PULocationID, DOLocationID, fare_amount, extra,"
                                      " mta_tax, tip_amount, tolls_amount, improvement_surcharge, total_amount required by"
                                      " schema Ride"]  # fmt: skip


def test_idempotence_refused_by_the_broker_is_a_clear_error_naming_the_flag(broker: Broker, tmp_path: Path) -> None:
    write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump("replay", str(tmp_path / "x.jsonl"), "--topic", "t", "--bootstrap-servers", broker.bootstrap, "--idempotence")
    [line] = cli.stderr_lines(proc)
    assert proc.returncode == 2
    assert line.startswith(f"pump: the broker at {broker.bootstrap} refused the idempotent producer (--idempotence on): ")
    assert line.endswith("; use --idempotence auto or off to run at-least-once")


def test_by_default_a_broker_that_refuses_idempotence_gets_at_least_once_and_one_warning_line(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(500))
    report = tmp_path / "r.json"
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                    "--report-json", str(report))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    [line] = cli.stderr_lines(proc)
    assert line.startswith(f"pump: warning: the broker at {broker.bootstrap} refused the idempotent producer (")
    assert line.endswith("); sending without it: a retried send may be written twice")
    assert (cli.report_of(report)["idempotent"], cli.report_of(report)["acks"]) == (False, "all")
    assert len(consume(broker.bootstrap, topic_name, 500)) == 500


def test_the_broker_command_serves_a_replay_until_signalled(tmp_path: Path) -> None:
    port = free_port()
    lines = keyed_lines(500)
    path = write_lines(tmp_path / "in.jsonl", lines)
    with cli.start("broker", "--port", str(port), stderr=None) as server:
        try:
            assert server.stdout is not None
            assert f"bootstrap servers: 127.0.0.1:{port}" in server.stdout.readline().decode()
            proc = cli.pump(
                "replay", str(path), "--topic", "served", "--bootstrap-servers", f"127.0.0.1:{port}", "--create-topic"
            )
            assert proc.returncode == 0, proc.stderr.decode()
            assert sorted(m.value for m in consume(f"127.0.0.1:{port}", "served", 500)) == sorted(lines)
        finally:
            server.terminate()
            assert server.wait(10) == 0
