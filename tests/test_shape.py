"""--columns and --datetime for CSV and JSON lines: values written again with the fields asked for, in order."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from pump import ConfigError
from pump.decode import Partitioner
from pump.decode.csvrows import CsvDecoder
from pump.decode.jsonl import JsonLinesDecoder
from pump.decode.shape import Shape
from pump.decode.stage import Decoded, decode_chunk
from pump.dev.broker import Broker
from pump.errors import InputError
from pump.schemas import Ride
from tests.support import cli
from tests.support.builders import chunk
from tests.support.kafka import consume, create_topic

RIDES = Path(__file__).resolve().parents[1] / "examples" / "rides.csv"
LINE = (b'{"VendorID":1,"tpep_pickup_datetime":"2020-07-01 00:00:40","tpep_dropoff_datetime":"2020-07-01T00:10:16.5",'
        b'"passenger_count":3,"trip_distance":0.08,"RatecodeID":1,"store_and_fwd_flag":"N","PULocationID":45,'
        b'"DOLocationID":217,"payment_type":1,"fare_amount":2.69,"extra":0.5,"mta_tax":0.5,"tip_amount":0.27,'
        b'"tolls_amount":0,"improvement_surcharge":0.3,"total_amount":6.76,"congestion_surcharge":2.5}')  # fmt: skip
PICKUP = datetime(2020, 7, 1, 0, 0, 40, tzinfo=UTC)


def jsonl(data: bytes, shape: Shape, schema: type[msgspec.Struct] | None = None) -> Decoded:
    decoders = {"jsonl": JsonLinesDecoder(schema, None)}
    return decode_chunk(decoders, Partitioner(1), chunk(data, first_line=1), shape=shape)  # type: ignore[dict-item]


def values(out: Decoded) -> list[dict]:
    return [msgspec.json.decode(v) for recs in out.batches.values() for _, v, _ in recs]


def test_columns_keep_only_the_fields_named_in_their_order_and_a_line_without_one_is_invalid() -> None:
    data = b'{"a": 1, "b": {"x": [1, 2]}, "c": "z"}\n{"a": 2, "c": "y"}\n{"c": "w", "b": null, "a": 3}\n'
    out = jsonl(data, Shape(("c", "b"), "iso", None))
    assert [list(v.items()) for v in values(out)] == [[("c", "z"), ("b", {"x": [1, 2]})], [("c", "w"), ("b", None)]]
    assert [(i.line, i.reason, i.message) for i in out.invalid] == [(2, "schema", "no field 'b' (--columns)")]


@pytest.mark.parametrize(
    ("mode", "pickup", "dropoff"),
    [
        ("sql", "2020-07-01 00:00:40", "2020-07-01 00:10:16.500000"),
        ("epoch-ms", int(PICKUP.timestamp() * 1000), int(PICKUP.timestamp() * 1000) + 576_500),
        ("epoch-us", int(PICKUP.timestamp()) * 1_000_000, int(PICKUP.timestamp()) * 1_000_000 + 576_500_000),
        ("iso", "2020-07-01 00:00:40", "2020-07-01T00:10:16.5"),  # the default: a JSON line's text as it was
    ],
)
def test_a_schemas_datetimes_are_written_as_datetime_says(mode: str, pickup: object, dropoff: object) -> None:
    [value] = values(jsonl(LINE + b"\n", Shape(None, mode, Ride), Ride))
    assert (value["tpep_pickup_datetime"], value["tpep_dropoff_datetime"]) == (pickup, dropoff)
    assert value["trip_distance"] == 0.08 and list(value) == [f.encode_name for f in msgspec.structs.fields(Ride)]


@pytest.mark.parametrize("arrow", [True, False])
def test_csv_rows_take_columns_and_datetimes_on_either_path(arrow: bool) -> None:
    header, body = RIDES.read_bytes().split(b"\n", 1)
    c = chunk(body, first_line=2, header=tuple(header.decode().split(",")))
    shape = Shape(("PULocationID", "tpep_pickup_datetime"), "epoch-ms", Ride)
    out = decode_chunk({"csv": CsvDecoder(Ride, None, arrow=arrow)}, Partitioner(1), c, shape=shape)  # type: ignore[dict-item]
    got = values(out)
    assert len(got) == 266 and all(list(v) == ["PULocationID", "tpep_pickup_datetime"] for v in got)
    first = body.split(b"\n", 1)[0].decode().split(",")
    assert got[0] == {"PULocationID": int(first[7]), "tpep_pickup_datetime": int(
        datetime.fromisoformat(first[1]).replace(tzinfo=UTC).timestamp() * 1000)}  # fmt: skip


def test_a_column_a_csv_header_or_a_schema_lacks_is_one_error_before_anything_is_sent() -> None:
    c = chunk(b"1,2\n", first_line=2, header=("a", "b"), path="in.csv")
    with pytest.raises(InputError, match=r"in\.csv:1: --columns: the CSV header has no column 'z'"):
        decode_chunk({"csv": CsvDecoder(None, None)}, Partitioner(1), c, shape=Shape(("a", "z"), "iso", None))  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="schema Ride has no field 'nope'"):
        Shape(("PULocationID", "nope"), "iso", Ride)


def test_parquet_chunks_pass_as_read_and_a_shape_travels_to_decode_processes() -> None:
    shape = Shape(("a",), "sql", None)
    rows = chunk(b'{"a": 1, "b": 2}\n', first_line=1)
    rows.rows = True  # a Parquet file's JSON lines: --columns and --datetime were applied as it was read
    assert values(jsonl(rows.data, shape)) == [{"a": 1}]
    out = decode_chunk({"jsonl": JsonLinesDecoder(None, None)}, Partitioner(1), rows, shape=shape)  # type: ignore[dict-item]
    assert values(out) == [{"a": 1, "b": 2}]
    again = pickle.loads(pickle.dumps(Shape(("tpep_pickup_datetime",), "epoch-ms", Ride)))
    assert values(jsonl(LINE + b"\n", again, Ride)) == [{"tpep_pickup_datetime": int(PICKUP.timestamp() * 1000)}]


@pytest.mark.integration
def test_the_zoomcamp_csv_with_a_few_columns_and_epoch_milliseconds(broker: Broker, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, 2)
    proc = cli.pump("replay", str(RIDES), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--schema", "rides",
                    "--key-field", "PULocationID", "--columns", "PULocationID,DOLocationID,tpep_pickup_datetime",
                    "--datetime", "epoch-ms")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [r.split(",") for r in RIDES.read_text().splitlines()[1:]]
    expected = sorted(
        (int(r[7]), int(r[8]), int(datetime.fromisoformat(r[1]).replace(tzinfo=UTC).timestamp() * 1000)) for r in rows
    )
    got = [msgspec.json.decode(m.value) for m in consume(broker.bootstrap, topic_name, len(rows))]
    assert all(list(v) == ["PULocationID", "DOLocationID", "tpep_pickup_datetime"] for v in got)
    assert sorted((v["PULocationID"], v["DOLocationID"], v["tpep_pickup_datetime"]) for v in got) == expected
