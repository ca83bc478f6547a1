"""Avro and JSON Schema through a real Schema Registry (Apicurio's Confluent-compatible API): values read back with
confluent-kafka's own deserializers equal what the inputs hold, field by field; the registry's refusals end a run in one
line before anything is sent; a value that does not fit is one invalid line, and the rest are delivered."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from pump.dev.broker import Broker
from pump.dev.synth import write_parquet
from pump.schemas import Ride
from tests.support.apache_kafka import KafkaCluster, free_port
from tests.support.cli import pump, report_of, stderr_lines
from tests.support.kafka import consume, create_topic
from tests.support.registry import Apicurio
from tests.support.tls import tls_in_front

RIDES = Path(__file__).resolve().parent.parent / "examples" / "rides.csv"


def read_back(bootstrap: str, topic: str, url: str, fmt: str, expected: int, **conf: Any) -> list[tuple[bytes | None, Any]]:
    """(key, value) of every record, the value through confluent-kafka's deserializer for ``fmt``, in offset order."""
    messages = sorted(consume(bootstrap, topic, expected, **conf), key=lambda m: (m.partition, m.offset))
    context = SerializationContext(topic, MessageField.VALUE)
    with SchemaRegistryClient({"url": url}) as client:
        deserializer = AvroDeserializer(client) if fmt == "avro" else JSONDeserializer(None, schema_registry_client=client)
        return [(m.key, deserializer(m.value, context)) for m in messages]


def ride_rows() -> list[dict[str, Any]]:
    """The sample's rows as the Ride schema types them (a naive time taken as UTC, as pump writes it)."""
    types = {f.name: f.type for f in msgspec.structs.fields(Ride)}
    return [{name: _typed(types[name], text) for name, text in row.items()}
            for row in csv.DictReader(RIDES.read_text().splitlines())]  # fmt: skip


def _typed(kind: Any, text: str) -> Any:
    if text == "":
        return None
    for python in (int, float, datetime):
        if kind is python or kind == python | None:
            return datetime.fromisoformat(text).replace(tzinfo=UTC) if python is datetime else python(text)
    return text


def test_rides_as_avro_read_back_field_by_field(broker: Broker, registry: Apicurio, topic_name: str) -> None:
    proc = pump("replay", str(RIDES), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--partitions", "3", "--schema", "rides", "--key-field", "PULocationID", "--value-format", "avro",
                "--schema-registry", registry.url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = read_back(broker.bootstrap, topic_name, registry.url, "avro", 266)
    expected = {(str(r["PULocationID"]).encode(), json.dumps(r, default=str, sort_keys=True)) for r in ride_rows()}
    seen = [(k, json.dumps(v, default=str, sort_keys=True)) for k, v in got]
    assert len(seen) == 266 and set(seen) == expected
    some = next(v for _, v in got if v["VendorID"] is None) if any(v["VendorID"] is None for _, v in got) else got[0][1]
    assert isinstance(some["PULocationID"], int) and isinstance(some["tpep_pickup_datetime"], datetime)


def every_type() -> pa.Table:
    """A Parquet table with every type pump derives an Avro type for, nulls included."""
    return pa.table({
        "n": pa.array([1, None, -3], pa.int64()),
        "small": pa.array([1, -2, None], pa.int32()),
        "at_utc": pa.array([datetime(2025, 1, 1, 12, 0, 0, 123000, tzinfo=UTC), None, datetime(1969, 12, 31, tzinfo=UTC)],
                           pa.timestamp("ms", "UTC")),
        "at_naive": pa.array([datetime(2025, 1, 1, 0, 0, 0, 1), datetime(2000, 2, 29, 23, 59, 59), None], pa.timestamp("us")),
        "day": pa.array([date(2025, 1, 1), None, date(1899, 12, 31)], pa.date32()),
        "money": pa.array([Decimal("12.34"), None, Decimal("-0.01")], pa.decimal128(10, 2)),
        "text": pa.array(["a", None, 'quote " and \\ backslash, é'], pa.string()),
        "flag": pa.array([True, False, None]),
        "ratio": pa.array([1.5, None, -0.25]),
        "items": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
        "place": pa.array([{"x": 1, "y": "a"}, None, {"x": None, "y": "b"}], pa.struct([("x", pa.int64()), ("y", pa.string())])),
        "tags": pa.array([[("a", 1)], None, []], pa.map_(pa.string(), pa.int64())),
    })  # fmt: skip


def as_read(row: dict[str, Any]) -> dict[str, Any]:
    """A row as Avro gives it back: timestamps in UTC (a naive one taken as UTC), a map as a dict."""
    out = {}
    for k, v in row.items():
        if isinstance(v, datetime):
            v = v if v.tzinfo is not None else v.replace(tzinfo=UTC)
        out[k] = v
    return out


@pytest.mark.parametrize("fmt", ["avro", "json-schema"])
def test_parquet_of_every_type_read_back_field_by_field(broker: Broker, registry: Apicurio, topic_name: str,
                                                        tmp_path: Path, fmt: str) -> None:  # fmt: skip
    table = every_type()
    path = tmp_path / "types.parquet"
    pq.write_table(table, path)
    proc = pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--value-format", fmt, "--schema-registry", registry.url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = [v for _, v in read_back(broker.bootstrap, topic_name, registry.url, fmt, 3)]
    rows = table.to_pylist(maps_as_pydicts="strict")
    if fmt == "avro":
        assert got == [as_read(r) for r in rows]
        assert got[1]["n"] is None and got[2]["n"] == -3 and isinstance(got[0]["small"], int)
    else:  # JSON: the row as pump writes it, checked against the derived schema by the deserializer
        assert [v["n"] for v in got] == [1, None, -3] and [v["money"] for v in got] == [12.34, None, -0.01]
        assert got[0]["at_utc"].startswith("2025-01-01T12:00:00.123") and got[2]["tags"] == {}
        assert [v["place"] for v in got] == [{"x": 1, "y": "a"}, None, {"x": None, "y": "b"}]


def test_flat_parquet_is_written_a_column_at_a_time_and_reads_back(broker: Broker, registry: Apicurio, topic_name: str,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "rides.parquet"
    write_parquet(str(path), 3000, row_group_rows=1000)
    proc = pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--partitions", "3", "--key-field", "PULocationID", "--value-format", "avro", "--schema-registry",
                registry.url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {json.dumps(as_read(r), default=str, sort_keys=True) for r in pq.read_table(path).to_pylist()}
    got = read_back(broker.bootstrap, topic_name, registry.url, "avro", 3000)
    assert {json.dumps(v, default=str, sort_keys=True) for _, v in got} == rows and len(got) == 3000
    assert all(k == str(v["PULocationID"]).encode() for k, v in got)


def test_rides_as_json_schema_read_back(broker: Broker, registry: Apicurio, topic_name: str, tmp_path: Path) -> None:
    lines = [msgspec.json.encode(r) for r in ride_rows()]
    path = tmp_path / "rides.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    proc = pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--schema", "rides", "--value-format", "json-schema", "--schema-registry", registry.url,
                "--mode", "sync")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = [v for _, v in read_back(broker.bootstrap, topic_name, registry.url, "json-schema", 266)]
    assert got == [msgspec.json.decode(line) for line in lines]


def test_an_incompatible_schema_is_refused_before_anything_is_sent(broker: Broker, registry: Apicurio, topic_name: str,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    subject = f"{topic_name}-value"
    create_topic(broker.bootstrap, topic_name, 1)
    first = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    (tmp_path / "v1.avsc").write_text(json.dumps(first))
    data = tmp_path / "in.jsonl"
    data.write_text('{"a": 1, "b": "x"}\n')
    args = ("replay", str(data), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--value-format", "avro",
            "--schema-registry", registry.url)  # fmt: skip
    with SchemaRegistryClient({"url": registry.url}) as client:  # the subject's first version, registered by another
        client.register_schema(subject, Schema(json.dumps(first), "AVRO"))
    registry.set_compatibility("BACKWARD", subject)
    second = {**first, "fields": [*first["fields"], {"name": "b", "type": "string"}]}  # a new field without a default
    (tmp_path / "v2.avsc").write_text(json.dumps(second))
    proc = pump(*args, "--value-schema", str(tmp_path / "v2.avsc"))
    assert proc.returncode == 2
    lines = stderr_lines(proc)
    assert len(lines) == 1 and subject in lines[0] and "409" in lines[0] and "Traceback" not in proc.stderr.decode(), lines
    assert consume(broker.bootstrap, topic_name, 0, within=3) == []  # nothing was sent
    assert pump(*args, "--value-schema", str(tmp_path / "v1.avsc")).returncode == 0  # the registered one is taken
    assert len(consume(broker.bootstrap, topic_name, 1, within=5)) == 1


def test_the_registry_refuses_or_is_gone_in_one_line(broker: Broker, registry: Apicurio, topic_name: str) -> None:
    args = ("replay", str(RIDES), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
            "--schema", "rides", "--value-format", "avro")  # fmt: skip
    missing = pump(*args, "--schema-registry", registry.url, "--no-auto-register")
    assert missing.returncode == 2 and len(stderr_lines(missing)) == 1
    assert f"'{topic_name}-value'" in missing.stderr.decode() and "404" in missing.stderr.decode()
    down = pump(*args, "--schema-registry", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 2 and len(stderr_lines(down)) == 1 and "cannot reach it" in down.stderr.decode()
    assert consume(broker.bootstrap, topic_name, 0, within=2) == []


def test_a_value_that_does_not_fit_is_invalid_and_the_rest_go(broker: Broker, registry: Apicurio, topic_name: str,
                                                              tmp_path: Path) -> None:  # fmt: skip
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"], "default": None}],
    }
    (tmp_path / "r.avsc").write_text(json.dumps(schema))
    data = tmp_path / "in.jsonl"
    data.write_text('{"a": 1}\n{"a": "two"}\n{"a": 3, "b": "x"}\n{"a": 4294967296}\n{"a": 5}\n')
    dead, report = tmp_path / "dead.jsonl", tmp_path / "report.json"
    proc = pump("replay", str(data), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--value-format", "avro", "--schema-registry", registry.url, "--value-schema", str(tmp_path / "r.avsc"),
                "--dead-letter", str(dead), "--report-json", str(report), "--processes", "2",
                "--encode-processes", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    said = report_of(report)
    assert said["invalid_by_reason"] == {"schema": 2} and said["acknowledged"] == 3
    shown = proc.stdout.decode()
    assert "in.jsonl:2: does not fit the Avro schema" in shown and "in.jsonl:4:" in shown
    assert sorted(v["a"] for _, v in read_back(broker.bootstrap, topic_name, registry.url, "avro", 3)) == [1, 3, 5]
    assert [json.loads(line)["line"] for line in dead.read_text().splitlines()] == [2, 4]


def test_exactly_once_avro_on_apache_kafka_verifies(kafka: KafkaCluster, registry: Apicurio, topic_name: str) -> None:
    create_topic(kafka.bootstrap, topic_name, 4)
    flags = (str(RIDES), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap, "--schema", "rides",
             "--key-field", "PULocationID", "--value-format", "avro", "--schema-registry", registry.url)  # fmt: skip
    sent = pump("replay", *flags, "--exactly-once", "--mode", "callback")
    assert sent.returncode == 0, sent.stderr
    got = read_back(kafka.bootstrap, topic_name, registry.url, "avro", 266, **{"isolation.level": "read_committed"})
    assert sorted(v["PULocationID"] for _, v in got) == sorted(r["PULocationID"] for r in ride_rows())
    checked = pump("verify", *flags)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_a_registry_over_tls_needs_its_ca_and_the_password_is_never_shown(broker: Broker, registry: Apicurio,
                                                                          topic_name: str, tmp_path: Path) -> None:  # fmt: skip
    with tls_in_front(tmp_path, registry.port) as (port, ca):
        url = f"https://127.0.0.1:{port}/apis/ccompat/v7"
        args = ("replay", str(RIDES), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--create-topic",
                "--schema", "rides", "--value-format", "avro", "--schema-registry", url, "--limit", "10")  # fmt: skip
        secret = {"PUMP_REGISTRY_PASSWORD": "hunter2-not-shown"}
        untrusted = pump(*args, "--registry-user", "pump", env=secret)
        said = untrusted.stdout.decode() + untrusted.stderr.decode()
        assert untrusted.returncode == 2 and len(stderr_lines(untrusted)) == 1 and "CERTIFICATE_VERIFY_FAILED" in said
        assert "hunter2" not in said
        trusted = pump(*args, "--registry-cafile", str(ca))
        assert trusted.returncode == 0, trusted.stderr
    assert len(read_back(broker.bootstrap, topic_name, registry.url, "avro", 10)) == 10
