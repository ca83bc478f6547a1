"""Parquet batches vouched for by their types (``decode.vouch``): where a batch is, the records are exactly those the
JSON-lines decoder makes of its lines, none of which it would refuse; where it is not, nothing changes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")

from pump.decode.jsonl import JsonLinesDecoder  # noqa: E402
from pump.decode.parquet import ParquetRows  # noqa: E402
from pump.decode.vouch import Vouch  # noqa: E402
from pump.input.source import RowBatch  # noqa: E402
from pump.schemas import BUILTIN  # noqa: E402


class Trip(msgspec.Struct, kw_only=True):
    zone: int
    fare: float
    tip: float | None = None
    flag: str | None = None
    pickup: dt.datetime
    riders: int | None = None


class Naive(msgspec.Struct):
    pickup: Annotated[dt.datetime, msgspec.Meta(tz=False)]  # a time without a zone only


def records_both_ways(batch: Any, schema: type[msgspec.Struct] | None, key: str | None, mode: str = "iso") -> tuple[Any, Any]:
    """(what the JSON-lines decoder makes of the batch's rows as JSON lines, what the Parquet decoder makes of the batch
    taking its rows as they are: None where its types do not vouch for them)."""
    lines = JsonLinesDecoder(schema, key)
    text, parsed = ParquetRows(schema, key, mode, lines).decode(RowBatch("t.parquet", batch, 1, 0, 0))
    plain = lines.decode(text)
    return plain, (parsed if Vouch(schema, key, mode)(batch) is not None else None)


def tlc_like(n: int = 50) -> Any:
    return pa.record_batch({
        "zone": pa.array([i % 7 + 1 for i in range(n)], pa.int32()),
        "fare": pa.array([i * 1.25 for i in range(n)], pa.float64()),
        "tip": pa.array([None if i % 3 else 0.5 for i in range(n)], pa.float64()),
        "flag": pa.array([None if i % 2 else "N" for i in range(n)], pa.string()),
        "pickup": pa.array([dt.datetime(2025, 11, 1, 0, i % 60, 0, i) for i in range(n)], pa.timestamp("us")),
        "riders": pa.array([i % 4 for i in range(n)], pa.int64()),
        "extra": pa.array([[i] for i in range(n)]),  # a column the schema does not name: in the value, not checked
    })  # fmt: skip


def test_a_batch_whose_types_fit_is_vouched_for_with_the_keys_the_decoder_makes() -> None:
    batch = tlc_like()
    for schema, key in [(Trip, "zone"), (Trip, None), (Trip, "flag"), (None, "zone"), (None, None)]:
        plain, vouched = records_both_ways(batch.drop_columns(["flag"]) if key == "flag" else batch, schema, key)
        if key == "flag":  # a key field whose column is missing: every line lacks its key, which the decoder reports
            assert vouched is None and len(plain.invalid) == 50
            continue
        assert vouched is not None, (schema, key)
        assert vouched.records == plain.records and not plain.invalid and not vouched.invalid
    assert records_both_ways(tlc_like(), Trip, "zone", "sql")[1] is not None


@pytest.mark.parametrize(
    "change, schema, key, mode",
    [
        (("fare", pa.array([1.5, math.nan, 2.0], pa.float64())), Trip, "zone", "iso"),  # NaN is written as null
        (("fare", pa.array([1.5, math.inf, 2.0], pa.float64())), Trip, "zone", "iso"),
        (("zone", pa.array([1, None, 3], pa.int32())), Trip, "zone", "iso"),  # a null key, and a null required field
        (("riders", pa.array([1.0, 2.5, 3.0], pa.float64())), Trip, "zone", "iso"),  # a double under an int field
        (("fare", pa.array(["1", "2", "3"], pa.string())), Trip, "zone", "iso"),  # text under a float field
        (("pickup", pa.array([dt.datetime(2025, 1, 1)] * 3, pa.timestamp("us"))), Trip, "zone", "epoch-ms"),  # ints
        (("pickup", pa.array([10**13, 0, 1], pa.timestamp("s"))), Trip, "zone", "iso"),  # past the year 9999
        (("pickup", pa.array([-(10**11), 0, 1], pa.timestamp("s"))), Trip, "zone", "iso"),  # before the year 1
        (None, Trip, "fare", "iso"),  # a float's key is its repr: the int column 3 would be b"3.0"
        (("zone", pa.array([1.0, 2.0, 3.0], pa.float64())), None, "zone", "iso"),  # without a schema, too
        (("pickup", pa.array([dt.datetime(2025, 1, 1)] * 3, pa.timestamp("us", "UTC"))), Naive, None, "iso"),
        (("riders", pa.array([1, 2, 3], pa.int64())), Trip, "zone", "twice"),  # a column name twice
    ],
)
def test_what_the_types_cannot_prove_is_left_to_the_decoder(change: Any, schema: Any, key: Any, mode: str) -> None:
    batch = tlc_like(3)
    if change is not None:
        name, column = change
        batch = batch.set_column(batch.schema.get_field_index(name), name, column)
    if schema is Naive:
        batch = batch.select(["pickup"])
    if mode == "twice":
        batch, mode = pa.RecordBatch.from_arrays([*batch.columns, batch.column("zone")], [*batch.schema.names, "zone"]), "iso"
    _, vouched = records_both_ways(batch, schema, key, mode)
    assert vouched is None


def test_the_rides_as_the_tlc_types_them_are_vouched_for() -> None:
    batch = pa.record_batch({
        "VendorID": pa.array([1, 2], pa.int32()),
        "tpep_pickup_datetime": pa.array([dt.datetime(2025, 1, 1)] * 2, pa.timestamp("us")),
        "tpep_dropoff_datetime": pa.array([dt.datetime(2025, 1, 1, 0, 9)] * 2, pa.timestamp("us")),
        "passenger_count": pa.array([1, None], pa.int64()),
        "trip_distance": pa.array([0.8, 1.1]),
        "RatecodeID": pa.array([1, None], pa.int64()),
        "store_and_fwd_flag": pa.array(["N", None]),
        "PULocationID": pa.array([230, 48], pa.int32()),
        "DOLocationID": pa.array([48, 230], pa.int32()),
        "payment_type": pa.array([1, 0], pa.int64()),
        **{name: pa.array([1.0, 2.5]) for name in ("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount",
                                                      "improvement_surcharge", "total_amount")},
        "congestion_surcharge": pa.array([2.5, None]),
        "Airport_fee": pa.array([0.0, None]),
    })  # fmt: skip
    plain, vouched = records_both_ways(batch, BUILTIN["rides"], "PULocationID")
    assert vouched is not None and vouched.records == plain.records and [r[0] for r in plain.records] == [b"230", b"48"]


TYPES = [pa.int8(), pa.int64(), pa.uint64(), pa.float32(), pa.float64(), pa.string(), pa.bool_(), pa.timestamp("s"),
         pa.timestamp("ms"), pa.timestamp("us", "UTC"), pa.timestamp("ns"), pa.date32()]  # fmt: skip


FITTING = {"zone": [pa.int8(), pa.int64(), pa.uint64()], "fare": [pa.float32(), pa.float64(), pa.int64()],
           "tip": [pa.float64(), pa.int8()], "riders": [pa.int64()], "flag": [pa.string()],
           "pickup": [pa.timestamp("s"), pa.timestamp("us", "UTC"), pa.timestamp("ns")]}  # fmt: skip


def values_of(kind: Any, n: int, nulls: bool, nan: bool) -> st.SearchStrategy[list[Any]]:
    if pa.types.is_timestamp(kind):  # seconds from before the year 1 to after 9999, in the type's unit
        per_second = {"s": 1, "ms": 1000, "us": 1_000_000}.get(kind.unit)
        low, high = (-(10**11) * per_second, 3 * 10**11 * per_second) if per_second else (-(2**62), 2**62)
        value: st.SearchStrategy[Any] = st.integers(low, high)
    elif pa.types.is_floating(kind):
        value = st.floats(width=32 if kind == pa.float32() else 64, allow_nan=nan, allow_infinity=nan)
    elif pa.types.is_unsigned_integer(kind):
        value = st.integers(0, 2**64 - 1)
    elif pa.types.is_integer(kind):
        value = st.integers(-128, 127) if kind == pa.int8() else st.integers(-(2**63), 2**63 - 1)
    elif kind == pa.string():
        value = st.text(max_size=5)
    elif kind == pa.bool_():
        value = st.booleans()
    else:
        value = st.integers(-700_000, 2_900_000)  # days
    return st.lists(st.none() | value if nulls else value, min_size=n, max_size=n)


@st.composite
def batches(draw: st.DrawFn) -> Any:
    n = draw(st.integers(1, 6))
    names = draw(st.lists(st.sampled_from(["zone", "fare", "tip", "flag", "pickup", "riders", "other"]), unique=True, min_size=1))
    likely = draw(st.booleans())  # Trip's required fields, of types that fit and mostly without nulls: worth vouching for
    if likely:
        names = ["zone", "fare", "pickup", *(n for n in names if n not in ("zone", "fare", "pickup"))]
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(FITTING[name] if likely and name in FITTING else TYPES))
        rare = draw(st.integers(0, 3)) == 0  # nulls, NaN and infinities: in a quarter of the likely batches' columns
        columns[name] = pa.array(draw(values_of(kind, n, rare if likely else draw(st.booleans()), not likely or rare)),
                                 kind if not pa.types.is_timestamp(kind) else pa.int64())  # fmt: skip
        if pa.types.is_timestamp(kind):
            columns[name] = columns[name].cast(kind)
    return pa.record_batch(columns)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(), schema=st.sampled_from([Trip, None]), key=st.sampled_from(["zone", "flag", "fare", None]),
       mode=st.sampled_from(["iso", "sql", "epoch-us"]))  # fmt: skip
def test_whatever_the_types_a_vouched_batch_decodes_to_the_same_records_none_refused(
    batch: Any, schema: Any, key: Any, mode: str
) -> None:
    plain, vouched = records_both_ways(batch, schema, key, mode)
    if vouched is not None:
        assert not plain.invalid and plain.blank == 0, [str(i) for i in plain.invalid]
        assert vouched.records == plain.records


def test_a_batch_split_for_limit_or_rate_decodes_to_the_whole_batchs_records_with_their_row_numbers() -> None:
    rows = RowBatch("t.parquet", tlc_like(10), 1, 0, 1000)
    first, rest, found = rows.split(4)
    assert found == 4 and rest is not None and (first.lines, rest.first_line, rest.offset, rest.lines) == (4, 5, 4, 6)
    assert first.raw_bytes + rest.raw_bytes == 1000
    decoder = ParquetRows(Trip, "zone", "iso", JsonLinesDecoder(Trip, "zone"))
    whole, head, tail = (decoder.decode(r)[1].records for r in (rows, first, rest))
    assert head + tail == whole and [line for *_, line in tail] == list(range(5, 11))
    assert rows.split(10) == (rows, None, 10)
