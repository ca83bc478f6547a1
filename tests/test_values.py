"""Avro and JSON Schema values, without a registry: the schemas pump derives, the wire format, a value that does not fit."""

from __future__ import annotations

import io
import json
import pickle
import random
from typing import Any

import fastavro
import msgspec
import pyarrow as pa
import pytest

from pump.config import ReplayConfig
from pump.decode import avro, jsonschemas
from pump.decode.avrocolumns import AvroColumns
from pump.decode.parsed import Parsed
from pump.decode.partition import Partitioner
from pump.decode.stage import build_decoders, decode_chunk
from pump.decode.values import AvroValues, JsonSchemaValues, encode_values
from pump.errors import ConfigError
from pump.input.source import RowBatch
from pump.output.registry import _refusal
from pump.schemas import Ride
from tests.support.builders import chunk


def fields(schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f for f in schema["fields"]}


def test_a_struct_becomes_the_avro_record_the_ecosystem_expects() -> None:
    got = fields(avro.from_struct(Ride, "Ride"))
    assert got["VendorID"] == {"name": "VendorID", "type": ["null", "long"], "default": None}
    assert got["tpep_pickup_datetime"]["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert got["trip_distance"]["type"] == "double" and got["store_and_fwd_flag"]["type"] == ["null", "string"]
    chosen = avro.from_struct(Ride, "Ride", ("total_amount", "PULocationID"))
    assert [f["name"] for f in chosen["fields"]] == ["total_amount", "PULocationID"]
    fastavro.parse_schema(chosen)


def test_arrow_types_become_avro_types_with_their_precision() -> None:
    schema = pa.schema([
        pa.field("id", pa.int64(), nullable=False), pa.field("small", pa.int16()),
        pa.field("at_ms", pa.timestamp("ms", "UTC")), pa.field("at_ns", pa.timestamp("ns")),
        pa.field("day", pa.date32()), pa.field("money", pa.decimal128(12, 3)),
        pa.field("items", pa.list_(pa.string())), pa.field("tags", pa.map_(pa.string(), pa.float32())),
        pa.field("place", pa.struct([("x", pa.int32())])),
        pa.field("inner", pa.struct([("place", pa.struct([("x", pa.int8())]))])),
    ])  # fmt: skip
    made = avro.from_arrow(schema, "trips-2025")
    fastavro.parse_schema(made)  # valid Avro, record names unique
    got = {name: f.get("type") for name, f in fields(made).items()}
    assert made["name"] == "trips_2025" and got["id"] == "long" and got["small"] == ["null", "int"]
    assert got["at_ms"][1] == {"type": "long", "logicalType": "timestamp-millis"}
    assert got["at_ns"][1] == {"type": "long", "logicalType": "timestamp-micros"}
    assert got["day"][1] == {"type": "int", "logicalType": "date"}
    assert got["money"][1] == {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3}
    assert got["items"][1] == {"type": "array", "items": ["null", "string"]}
    assert got["tags"][1] == {"type": "map", "values": ["null", "float"]}
    assert fields(made)["place"]["default"] is None


def test_a_column_avro_cannot_name_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="'trip distance' is not a valid Avro name"):
        avro.from_arrow(pa.schema([pa.field("trip distance", pa.float64())]), "t")


RECORD = {"type": "record", "name": "r", "fields": [
    {"name": "n", "type": "int"}, {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "note", "type": ["null", "string"], "default": None}]}  # fmt: skip


def test_avro_values_are_in_the_wire_format_and_read_back() -> None:
    values = AvroValues(json.dumps(RECORD), 4242)
    out = values.encode(b'{"n": 7, "at": "2025-01-01T00:00:00.250Z", "extra": true}')
    assert out[:5] == b"\x00" + (4242).to_bytes(4, "big")
    back = fastavro.schemaless_reader(io.BytesIO(out[5:]), fastavro.parse_schema(RECORD))
    assert back["n"] == 7 and back["note"] is None and back["at"].isoformat() == "2025-01-01T00:00:00.250000+00:00"
    again = pickle.loads(pickle.dumps(values))  # to decode processes
    assert again.encode(b'{"n": 7, "at": "2025-01-01T00:00:00.250Z"}') == out


def test_a_value_that_does_not_fit_is_invalid_with_its_line() -> None:
    data = b'{"n": 1, "at": 0}\n{"n": "x", "at": 0}\n{"n": 2147483648, "at": 0}\n{"at": 0}\n{"n": 5, "at": 0}\n'
    parsed = Parsed(records=[(None, line, i + 1) for i, line in enumerate(data.splitlines())])
    encode_values(AvroValues(json.dumps(RECORD), 1), parsed, chunk(data))
    assert [r[2] for r in parsed.records] == [1, 5]
    assert [(i.line, i.reason) for i in parsed.invalid] == [(2, "schema"), (3, "schema"), (4, "schema")]
    assert "Expected `int`, got `str` - at `$.n`" in parsed.invalid[0].message
    assert "<= 2147483647" in parsed.invalid[1].message and "missing required field `n`" in parsed.invalid[2].message
    assert parsed.invalid[1].offset == data.index(b'{"n": 2147483648')


def test_json_schema_values_are_checked_only_against_a_schema_pump_did_not_derive() -> None:
    schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}}, "required": ["n"]})
    checked = JsonSchemaValues(schema, 3, check=True)
    assert checked.encode(b'{"n": 1}') == b"\x00\x00\x00\x00\x03" + b'{"n": 1}'
    with pytest.raises(ValueError, match=r"10 is greater than the maximum of 9 - at `\$.n`"):
        checked.encode(b'{"n": 10}')
    assert JsonSchemaValues(schema, 3, check=False).encode(b'{"n": 10}').endswith(b'{"n": 10}')
    assert pickle.loads(pickle.dumps(checked)).check


def test_a_struct_becomes_a_json_schema_of_the_columns_asked_for() -> None:
    made = jsonschemas.from_struct(Ride, ("PULocationID", "VendorID"))
    assert list(made["properties"]) == ["PULocationID", "VendorID"] and made["required"] == ["PULocationID"]
    assert made["$schema"] == jsonschemas.DIALECT and made["type"] == "object"


def test_the_registrys_refusal_is_said_in_its_own_words() -> None:
    class Answer:
        status_code = 409
        content = msgspec.json.encode(
            {"error_code": 409, "message": "Schema being registered is incompatible\n with an earlier schema"}
        )

    said = _refusal(Answer())
    assert said == (
        "HTTP 409 (error 409): the schema is incompatible with the subject's versions: Schema being registered"
        " is incompatible with an earlier schema"
    )


def test_value_formats_need_a_registry_and_json_needs_none() -> None:
    with pytest.raises(ConfigError, match=r"needs values\.schema_registry"):
        ReplayConfig.of("x.csv", "t", value_format="avro")
    with pytest.raises(ConfigError, match=r"need values\.value_format avro or json-schema"):
        ReplayConfig.of("x.csv", "t", value_schema="r.avsc")
    with pytest.raises(ConfigError, match=r"input\.datetime"):
        ReplayConfig.of("x.csv", "t", value_format="avro", schema_registry="http://r", datetime="epoch-ms")


def flat_batch(n: int, seed: int) -> pa.RecordBatch:
    """Every flat type the column writer takes, edge values and nulls included, sliced (its buffers at an offset)."""
    rng = random.Random(seed)

    def maybe(v: Any) -> Any:
        return None if rng.random() < 0.1 else v

    edges = [0, -1, 1, 63, 64, -64, -65, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1]
    cols = {
        "i64": pa.array([maybe(rng.choice([*edges, rng.randint(-(10**12), 10**12)])) for _ in range(n)], pa.int64()),
        "i32": pa.array([maybe(rng.randint(-(2**31), 2**31 - 1)) for _ in range(n)], pa.int32()),
        "u8": pa.array([rng.randint(0, 255) for _ in range(n)], pa.uint8()),
        "f64": pa.array([maybe(rng.uniform(-1e6, 1e6)) for _ in range(n)], pa.float64()),
        "f32": pa.array([maybe(rng.uniform(-1e3, 1e3)) for _ in range(n)], pa.float32()),
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)]),
        "s": pa.array([maybe("".join(rng.choice("aé€😀 ") for _ in range(rng.randint(0, 70)))) for _ in range(n)]),
        "bin": pa.array([maybe(bytes(rng.randrange(256) for _ in range(rng.randint(0, 5)))) for _ in range(n)], pa.binary()),
        "ts_ms": pa.array([maybe(rng.randint(-(10**12), 10**13)) for _ in range(n)], pa.timestamp("ms", "UTC")),
        "ts_s": pa.array([maybe(rng.randint(-(10**9), 10**10)) for _ in range(n)], pa.timestamp("s")),
        "ts_us": pa.array([maybe(rng.randint(-(10**15), 10**16)) for _ in range(n)], pa.timestamp("us")),
        "d": pa.array([maybe(rng.randint(-(10**5), 10**5)) for _ in range(n)], pa.date32()),
        "t32": pa.array([maybe(rng.randint(0, 86_400_000 - 1)) for _ in range(n)], pa.time32("ms")),
        "t64": pa.array([maybe(rng.randint(0, 86_400 * 10**6 - 1)) for _ in range(n)], pa.time64("us")),
    }
    return pa.record_batch(list(cols.values()), names=list(cols)).slice(7, n - 20)


@pytest.mark.parametrize("seed", [1, 2])
def test_avro_written_a_column_at_a_time_is_fastavros_byte_for_byte(seed: int) -> None:
    batch = flat_batch(1500, seed)
    schema = avro.from_arrow(batch.schema, "r")
    columns = AvroColumns.of(schema, b"\x00\x00\x00\x00\x07")
    assert columns is not None
    got = columns.encode(batch)
    parsed = fastavro.parse_schema(schema)
    for i, row in enumerate(batch.to_pylist()):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, row)
        assert got[i].as_py() == b"\x00\x00\x00\x00\x07" + out.getvalue(), (i, row)


def test_what_the_column_writer_cannot_write_is_left_to_fastavro() -> None:
    nested = avro.from_arrow(pa.schema([pa.field("items", pa.list_(pa.int64()))]), "r")
    assert AvroColumns.of(nested, b"\x00" * 5) is None
    flat = AvroColumns.of(
        avro.from_arrow(pa.schema([pa.field("at", pa.timestamp("us")), pa.field("s", pa.string())]), "r"), b"\x00" * 5
    )
    assert flat is not None
    nanos = pa.record_batch([pa.array([1], pa.timestamp("ns")), pa.array(["x"])], names=["at", "s"])
    assert flat.encode(nanos) is None  # rounded to microseconds by the value-by-value path
    bad_text = pa.array([b"\xff"], pa.binary()).cast(pa.string(), safe=False)
    not_utf8 = pa.record_batch([pa.array([1], pa.timestamp("us")), bad_text], names=["at", "s"])
    assert flat.encode(not_utf8) is None


def test_timestamps_made_numbers_before_fastavro_are_what_fastavro_writes() -> None:
    schema = {"type": "record", "name": "r", "fields": [
        {"name": "ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "us", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": None}]}  # fmt: skip
    parsed = fastavro.parse_schema(schema)
    values = AvroValues(json.dumps(schema), 1)
    for when in ("1969-12-31T23:59:59.999500", "1900-01-01T00:00:00.000999Z", "2025-06-30T12:34:56.789123+02:00",
                 "2038-01-19 03:14:08.5"):  # fmt: skip
        record = msgspec.json.decode(json.dumps({"ms": when, "us": when}).encode(), type=avro.decoding_type(schema))
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        assert values.encode(json.dumps({"ms": when, "us": when}).encode())[5:] == out.getvalue(), when


def test_a_parquet_batch_is_written_a_column_at_a_time_and_a_nested_one_value_by_value() -> None:
    decoders = build_decoders(None, "k")
    flat = pa.record_batch([pa.array(["a", "b"]), pa.array([1, None], pa.int64())], names=["k", "n"])
    nested = pa.record_batch([pa.array(["a"]), pa.array([[1, 2]], pa.list_(pa.int64()))], names=["k", "n"])
    for batch, columnar in ((flat, True), (nested, False)):
        values = AvroValues(json.dumps(avro.from_arrow(batch.schema, "r")), 9)
        rows = RowBatch("in.parquet", batch, 1, 0, 100)
        decoded = decode_chunk(decoders, Partitioner(2), rows, values=None if columnar else values, avro=values.columns)
        assert decoded.written is columnar and decoded.count == batch.num_rows
        got = sorted(r for records in decoded.batches.values() for r in records)
        assert [(k, v[:5]) for k, v, _ in got] == [(row["k"].encode(), b"\x00\x00\x00\x00\x09") for row in batch.to_pylist()]
        parsed = fastavro.parse_schema(avro.from_arrow(batch.schema, "r"))
        assert [fastavro.schemaless_reader(io.BytesIO(v[5:]), parsed) for _, v, _ in got] == batch.to_pylist()
