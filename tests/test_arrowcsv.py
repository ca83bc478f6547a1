"""Arrow's CSV fast path gives the Python path's records, or steps aside for the chunk.

The Python path (``CsvDecoder(..., arrow=False)``) is the reference: for every chunk, the
default decoder's records, invalid rows and blanks must equal the reference's (values equal as
JSON, keys and line numbers equal), whichever path took the chunk.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pump.decode.arrowcsv import ArrowRows
from pump.decode.csvrows import CsvDecoder
from pump.decode.parsed import Parsed
from pump.schemas import Ride
from tests.support.decoding import HEADER, Notes, Trip, cchunk, same

RIDES = Path(__file__).resolve().parents[1] / "examples" / "rides.csv"


def both(
    schema: type[msgspec.Struct] | None, key: str | None, header: tuple[str, ...], body: bytes, delimiter: str = ","
) -> tuple[Parsed, bool]:
    """(the default decoder's result, checked against the reference; whether Arrow took the chunk)."""
    fast = CsvDecoder(schema, key)
    took = fast.plan_for(header, "in.csv", delimiter).arrow
    assert took is not None, "the plan should allow the fast path"
    out = fast.decode(cchunk(header, body, delimiter=delimiter))
    same(out, CsvDecoder(schema, key, arrow=False).decode(cchunk(header, body, delimiter=delimiter)))
    return out, took.decode(cchunk(header, body, delimiter=delimiter), None) is not None


@pytest.mark.parametrize(("schema", "key"), [(Ride, "PULocationID"), (None, "PULocationID"), (None, None)])
def test_the_zoomcamp_rides_decode_alike_on_both_paths(schema: type[msgspec.Struct] | None, key: str | None) -> None:
    header, body = RIDES.read_bytes().split(b"\n", 1)
    out, took = both(schema, key, tuple(header.decode().split(",")), body)
    assert took and len(out.records) == 266 and not out.invalid


@pytest.mark.parametrize(
    "body",
    [
        b"1,2025-11-01 00:05:00,.5,1.,Midtown\n2,2025-11-01T00:06:01.250000,-.75,,\n3,2025-11-01 00:07:00,1e5,3,x\\y\n",
        b"1,2025-11-01 00:05:00,nan,inf,a\n2,2025-11-01 00:05:00,007,-0,b\n",  # NaN and infinities are null in JSON
        b"1,2025-11-01 00:05:00,1.5,,\n2,2025-11-01 00:05:00,2.5,,",  # the last row without its newline
        b"1,2025-11-01 00:05:00,1.5,,a\tb\n2,2025-11-01 00:05:00,2.5,,c\\d\n",  # text JSON must escape
        b"1,2025-11-01 00:05:00,-1.5,-2,a\n2,2025-11-01 00:05:00,-0.25,-3e2,b\n",  # negatives, no leading point
    ],
)
def test_arrow_takes_plain_rows_and_gives_the_same_records(body: bytes) -> None:
    out, took = both(Trip, "id", HEADER, body)
    assert took and out.records and not out.invalid


def test_numbers_already_in_json_form_keep_their_text_and_a_leading_point_gets_its_zero() -> None:
    body = b"7,2025-11-01 00:05:00,2.50,.73,a\n8,2025-11-01 00:06:00,-.5,1e3,b\n"
    out, took = both(Trip, "id", HEADER, body)
    assert took
    assert [v for _, v, _ in out.records] == [
        b'{"id":7,"at":"2025-11-01T00:05:00","fare":2.50,"tip":0.73,"zone":"a"}',
        b'{"id":8,"at":"2025-11-01T00:06:00","fare":-0.5,"tip":1e3,"zone":"b"}',
    ]
    # a cell out of its form (a leading zero): its column alone is read and written by Arrow; the chunk stays fast
    out, took = both(Trip, "id", HEADER, b"007,2025-11-01 00:05:00,2.50,,a\n")
    assert took and out.records[0][:2] == (b"7", b'{"id":7,"at":"2025-11-01T00:05:00","fare":2.50,"tip":null,"zone":"a"}')


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"1,2025-11-01 00:05:00,1.5,,\n2,2025-11-01 00:05:00,abc,,\n", "schema"),  # a cell no reader takes
        (b"1,2025-11-01 00:05:00,,,\n", "schema"),  # an empty required cell: Arrow reads null
        (b"1,2025-11-01,1.5,,\n", "schema"),  # a date alone: Arrow would read midnight, msgspec refuses
        (b"1,2025-11-01 00:05,1.5,,\n", "schema"),  # no seconds: the same
        (b"1,2025-11-01 00:05:00,1.5,,\n2,2025-11-01 00:05:00,1.5\n", "csv"),  # a row of another width
        (b"1,2025-11-01 00:05:00,1.5,,\xff\n", "encoding"),  # invalid UTF-8
        (b"1,2025-11-01 00:05:00Z,1.5,,\n", None),  # a zone: msgspec reads it, the fast path leaves it
        (b",2025-11-01 00:05:00,1.5,,\n", "schema"),  # the key's column empty
    ],
)
def test_a_chunk_the_fast_path_cannot_take_as_python_would_goes_through_python(body: bytes, reason: str | None) -> None:
    out, took = both(Trip, "id", HEADER, body)
    assert not took
    assert [i.reason for i in out.invalid] == ([reason] if reason else [])


@pytest.mark.parametrize("schema", [Trip, Notes, None])
@pytest.mark.parametrize(
    ("body", "blanks"),
    [
        (b"1,2025-11-01 00:05:00,1.5,,\n\n2,2025-11-01 00:05:00,1.5,,\n", 1),
        (b"1,2025-11-01 00:05:00,1.5,,\n2,2025-11-01 00:05:00,1.5,,\n\n\n", 2),  # at the chunk's end
        (b"1,2025-11-01 00:05:00,1e3,,a\n\n2,2025-11-01 00:05:00,1.5,,\n", 1),  # 1e3 not in form: searched for
    ],
)
def test_a_blank_line_is_blank_whichever_schema_never_a_record_of_empty_cells(
    schema: type[msgspec.Struct] | None, body: bytes, blanks: int
) -> None:
    # Arrow reads a blank line as a row of nulls under any header: under a schema that allows every cell empty (or
    # none) it would have become a record
    out, took = both(schema, "id", HEADER, body)
    assert not took and out.blank == blanks and len(out.records) == 2 and not out.invalid


@pytest.mark.parametrize("schema", [Trip, Notes, None])
@pytest.mark.parametrize(
    ("body", "zones"),
    [
        (b'1,2025-11-01 00:05:00,1.5,,"a,b"\n2,"2025-11-01 00:05:00","2.5","",""\n', ["a,b", ""]),  # numbers, empties
        (b'1,2025-11-01 00:05:00,1.5,,"say ""hi"", \\o/"\r\n2,2025-11-01 00:05:00,1.5,,"\t"\r\n', ['say "hi", \\o/', "\t"]),
    ],
)
def test_rfc_4180_quoted_cells_take_the_fast_path_alike(
    schema: type[msgspec.Struct] | None, body: bytes, zones: list[str]
) -> None:
    out, took = both(schema, "id", HEADER, body)
    assert took and [msgspec.json.decode(v)["zone"] for _, v, _ in out.records] == zones


@pytest.mark.parametrize(
    "body",
    [
        b'1,2025-11-01 00:05:00,1.5,,"ab"c\n',  # text after a closing quote: the strict csv module fails the row
        b'1,2025-11-01 00:05:00,1.5,,TV 55" LED\n',  # a quote inside an unquoted cell: text to the csv module
        b'1,2025-11-01 00:05:00,1.5,,"a\nb"\n2,2025-11-01 00:05:00,1.5,,c\n',  # a newline inside quotes: rows != lines
        b'1,2025-11-01 00:05:00,1.5,, "a"\n',  # a space before the quote: the cell is unquoted
        b'1,2025-11-01 00:05:00,1.5,,"a\n',  # never closed
    ],
)
def test_quotes_outside_rfc_4180_go_through_python(body: bytes) -> None:
    for schema in (Notes, None):
        assert not both(schema, "id", HEADER, body)[1]


@pytest.mark.parametrize("body", [b'a\n""\nb\n', b'a\n" "\n', b'"a"\n'])
def test_in_one_column_any_quote_goes_through_python(body: bytes) -> None:
    assert not both(None, "id", ("id",), body)[1]  # "" and " " are blank lines to the Python path, cells to Arrow


@pytest.mark.parametrize("schema", [Trip, Notes, None])
def test_rows_ending_in_crlf_take_the_fast_path_alike(schema: type[msgspec.Struct] | None) -> None:
    rows = b"1,2025-11-01 00:05:00,1.5,,Midtown\r\n2,2025-11-01 00:05:00,-.5,3,\r\n3,2025-11-01 00:05:00,2,,z"
    out, took = both(schema, "id", HEADER, rows)  # Windows' exports: Arrow reads them as fast
    assert took and len(out.records) == 3 and msgspec.json.decode(out.records[0][1])["zone"] == "Midtown"
    out, took = both(schema, "id", (*HEADER, "note"), rows.replace(b"\r\n", b",n\r\n") + b",n")  # after a left-out column
    assert took and len(out.records) == 3


@pytest.mark.parametrize(
    ("body", "blank", "invalid"),
    [
        (b"1,2025-11-01 00:05:00,1.5,,a\r\n\r\n2,2025-11-01 00:05:00,1.5,,b\r\n", 1, 0),  # a blank CRLF line
        (b"\r\n1,2025-11-01 00:05:00,1.5,,a\r\n", 1, 0),
        (b"1,2025-11-01 00:05:00,1.5,,a\rb\n2,2025-11-01 00:05:00,1.5,,b\n", 0, 1),  # a CR alone: Arrow ends a row there
        (b"1,2025-11-01 00:05:00,1e3,,a\rb\n2,2025-11-01 00:05:00,1.5,,b\n", 0, 1),  # the same, not in form
        (b"1,2025-11-01 00:05:00,1.5,,a\n2,2025-11-01 00:05:00,1.5,x\r,b\n", 0, 1),  # in a left-out-like cell
        # two rows' worth of cells on one line, a CR between: two rows to Arrow, one line (invalid) to Python
        (b"1,2025-11-01 00:05:00,1.5,,a\r2,2025-11-01 00:05:00,1.5,,b\n3,2025-11-01 00:05:00,1.5,,c\n", 0, 1),
        (b"1,2025-11-01 00:05:00,1e3,,a\r2,2025-11-01 00:05:00,1.5,,b\n3,2025-11-01 00:05:00,1.5,,c\n", 0, 1),
    ],
)
def test_a_blank_crlf_line_or_a_cr_alone_goes_through_python(body: bytes, blank: int, invalid: int) -> None:
    for schema in (Notes, None):
        out, took = both(schema, "id", HEADER, body)
        assert not took and out.blank == blank and len(out.invalid) == invalid


@pytest.mark.parametrize("body", [b"a\n \nb\n", b"a\n\t\n", b"\xc2\xa0\nb\n", b"a\n  "])
def test_in_one_column_a_line_of_whitespace_is_blank_on_both_paths(body: bytes) -> None:
    out, took = both(None, "id", ("id",), body)
    assert not took and out.blank == 1
    assert both(None, "id", ("id",), b"a\n b\nc\n")[1]  # text with a space in it is a cell: Arrow takes the chunk


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
@pytest.mark.parametrize("schema", [Trip, Notes, None])
def test_other_delimiters_take_the_fast_path_alike_and_a_comma_is_text_there(
    schema: type[msgspec.Struct] | None, delimiter: str
) -> None:
    rows = [["1", "2025-11-01 00:05:00", "1.5", "", "Mid, town"], ["2", "2025-11-01T00:06:01", "-.5", "3", "a,b"]]
    body = "".join(delimiter.join(row) + "\n" for row in rows).encode()
    out, took = both(schema, "id", HEADER, body, delimiter)
    assert took and [msgspec.json.decode(v)["zone"] for _, v, _ in out.records] == ["Mid, town", "a,b"]
    out, took = both(schema, "id", HEADER, body.replace(b"Mid, town", b"Mid" + delimiter.encode() + b"town"), delimiter)
    assert not took and [i.reason for i in out.invalid] == ["csv"]  # six cells under five columns: Python's error


@pytest.mark.parametrize("schema", [Trip, None])
def test_empty_text_cells_are_empty_strings_and_an_empty_key_cell_the_empty_key(schema: type[msgspec.Struct] | None) -> None:
    body = b"1,2025-11-01 00:05:00,1.5,,\n2,2025-11-01 00:05:00,2.5,,b\n"
    out, took = both(schema, "zone", HEADER, body)
    assert took and [k for k, _, _ in out.records] == [b"", b"b"]
    assert msgspec.json.decode(out.records[0][1])["zone"] == ""


def test_an_extra_column_is_left_out_but_its_invalid_utf8_still_fails_the_row() -> None:
    header = (*HEADER, "note")
    out, took = both(Trip, "id", header, b"1,2025-11-01 00:05:00,1.5,,z,fine\n")
    assert took and list(msgspec.json.decode(out.records[0][1])) == ["id", "at", "fare", "tip", "zone"]
    out, took = both(Trip, "id", header, b"1,2025-11-01 00:05:00,1.5,,z,\xfe\n")
    assert not took and [i.reason for i in out.invalid] == ["encoding"]


class Bounded(msgspec.Struct):
    n: Annotated[int, msgspec.Meta(ge=0)]


class Chosen(msgspec.Struct):
    kind: Literal["a", "b"]


class Flag(msgspec.Struct):
    ok: bool


class Defaulted(msgspec.Struct, omit_defaults=True):
    n: int = 0


@pytest.mark.parametrize(
    ("schema", "header"),
    [(Bounded, ("n",)), (Chosen, ("kind",)), (Flag, ("ok",)), (Defaulted, ("n",)), (Trip, ("id", "at", "fare"))],
)
def test_schemas_arrow_cannot_check_as_msgspec_does_never_take_the_fast_path(
    schema: type[msgspec.Struct], header: tuple[str, ...]
) -> None:
    assert ArrowRows.of(header, schema, None) is None  # constraints, literals, bools, omitted defaults, a missing field


# digits a double or an int64 cannot hold, and a float's cell that reads back as an int
long_numbers = st.sampled_from(["12345678901234567890", "123456789012345", "1234567890123456", "1" + "0" * 45 + ".5", "9" * 19])
cells = st.one_of(
    long_numbers,
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.sampled_from(
        ["", ".5", "5.", "-.5", "1e3", "abc", " 7", "007", "2025-11-01", "1.0", "-0", "-0.0", "+5", "1E5", "1e400", "00"]
    ),
)
stamps = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat(sep=" ")),
    st.sampled_from(["", "2025-11-01", "2025-11-01T00:05:00", "2025-11-01 00:05:00.5", "x"]),
)
texts = st.text(st.characters(codec="utf-8", exclude_characters=',"\r\n'), max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.tuples(cells, stamps, cells, cells, texts), st.just(())), min_size=1, max_size=12),
    st.sampled_from([(Trip, "zone"), (Notes, "id"), (None, "id")]),
)
def test_any_rows_decode_alike_whichever_path_takes_them(
    rows: list[tuple[str, ...]], schema_key: tuple[type[msgspec.Struct] | None, str]
) -> None:
    body = "".join(",".join(row) + "\n" for row in rows).encode("utf-8", "surrogateescape")  # (): a blank line
    schema, key = schema_key
    fast = CsvDecoder(schema, key).decode(cchunk(HEADER, body))
    same(fast, CsvDecoder(schema, key, arrow=False).decode(cchunk(HEADER, body)))


good_cells = st.one_of(st.integers(-(10**15), 10**15).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr))
good_stamps = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat(sep=" "))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**9).map(str), good_stamps, good_cells, good_cells, texts), min_size=1, max_size=12))
def test_any_valid_rows_take_the_fast_path_and_decode_alike(rows: list[tuple[str, str, str, str, str]]) -> None:
    body = "".join(",".join(row) + "\n" for row in rows).encode()
    out, took = both(Trip, "id", HEADER, body)
    assert took and len(out.records) == len(rows)


def test_without_pyarrow_csv_goes_through_python_and_decode_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pump.config import InputSettings
    from pump.decode.stage import decode_processes_for
    from pump.input.files import FileSource

    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)  # import pyarrow.csv now fails, as where it is not installed
    header, body = RIDES.read_bytes().split(b"\n", 1)
    decoder = CsvDecoder(Ride, "PULocationID")
    out = decoder.decode(cchunk(tuple(header.decode().split(",")), body))
    assert decoder.plan_for(tuple(header.decode().split(",")), "in.csv").arrow is None and len(out.records) == 266
    assert decode_processes_for(InputSettings(paths=("big.csv",)), [FileSource("big.csv", 40 << 20)], 2) == 2
