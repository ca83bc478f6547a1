"""Decoders: valid lines become (key, value, line); everything else an Invalid with file, line and reason."""

from __future__ import annotations

import csv
import io

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pump.config import InputSettings
from pump.decode import decode_processes_for
from pump.decode.csvrows import CsvDecoder
from pump.decode.jsonl import JsonLinesDecoder
from pump.errors import ConfigError, InputError
from pump.input import Chunk, FileSource
from pump.schemas import Ride
from tests.support.builders import EXAMPLES, chunk


def jchunk(data: bytes, first_line: int = 1) -> Chunk:
    return chunk(data, first_line=first_line)


def cchunk(header: tuple[str, ...], body: str, first_line: int = 2) -> Chunk:
    return chunk(body.encode(), first_line=first_line, offset=10, path="in.csv", header=header)


class Point(msgspec.Struct):
    id: int
    name: str


def test_json_line_is_sent_as_its_original_bytes() -> None:
    out = JsonLinesDecoder(None, "id").decode(jchunk(b'{"id": 7, "x":[1, 2]}\r\n\n  \n{"id":"a"}'))
    assert out.records == [(b"7", b'{"id": 7, "x":[1, 2]}', 1), (b"a", b'{"id":"a"}', 4)]
    assert out.blank == 2 and not out.invalid


@pytest.mark.parametrize(
    ("line", "reason", "needle"),
    [
        (b'{"id": 1,', "json", "truncated"),
        (b"[1, 2]", "not_object", "expected a JSON object"),
        (b'{"id": "x", "name": "n"}', "schema", "Expected `int`"),
        (b'{"name": "n"}', "schema", "missing required field `id`"),
        (b'{"id": 1, "name": "\xff"}', "encoding", "invalid UTF-8"),
        (b'{"id": 1, "name": "a\x00"}', "json", "invalid character"),
        (b'{"id": 1, "name": "n", "skipped": "\xc3"}', "encoding", "invalid UTF-8"),
    ],
)
def test_invalid_json_lines_are_reported_with_line_and_reason(line: bytes, reason: str, needle: str) -> None:
    out = JsonLinesDecoder(Point, "id").decode(jchunk(b'{"id":1,"name":"ok"}\n' + line + b"\n", first_line=40))
    assert [r[2] for r in out.records] == [40]
    [bad] = out.invalid
    assert (bad.line, bad.reason) == (41, reason)
    assert needle in bad.message
    assert str(bad).startswith("in.jsonl:41: ")


def test_missing_or_null_key_is_invalid() -> None:
    out = JsonLinesDecoder(None, "k").decode(jchunk(b'{"k": null}\n{"j": 1}\n{"k": 0}\n'))
    assert [i.reason for i in out.invalid] == ["key", "key"]
    assert "missing or null" in out.invalid[0].message
    assert out.records == [(b"0", b'{"k": 0}', 3)]


class Named(msgspec.Struct):
    name: str | None = None


@pytest.mark.parametrize("schema", [None, Named])
def test_the_empty_string_is_a_key_not_a_missing_one(schema: type[msgspec.Struct] | None) -> None:
    out = JsonLinesDecoder(schema, "name").decode(jchunk(b'{"name": ""}\n{"name": null}\n'))
    assert out.records == [(b"", b'{"name": ""}', 1)]
    assert [(i.line, i.reason) for i in out.invalid] == [(2, "key")]


def test_an_empty_csv_key_cell_is_the_empty_key() -> None:
    out = CsvDecoder(None, "name").decode(cchunk(("id", "name"), "1,\n2,b\n"))
    assert [(k, line) for k, _, line in out.records] == [(b"", 2), (b"b", 3)]


def test_key_field_must_exist_in_schema() -> None:
    with pytest.raises(ConfigError, match=r"input\.key_field 'nope' is not a field of schema Point"):
        JsonLinesDecoder(Point, "nope")


def test_rides_sample_decodes_every_row_typed() -> None:
    text = (EXAMPLES / "rides.csv").read_text()
    header, body = text.split("\n", 1)
    out = CsvDecoder(Ride, "PULocationID").decode(cchunk(tuple(header.split(",")), body))
    assert len(out.records) == 266 and not out.invalid
    first = msgspec.json.decode(out.records[0][1])
    assert first["trip_distance"] == 1.5 and first["PULocationID"] == 238 and out.records[0][0] == b"238"
    assert first["tpep_pickup_datetime"] == "2020-07-01T00:25:32"
    # the TLC writes distances under a mile as ".73": they must come out as numbers
    short = [msgspec.json.decode(v) for _, v, _ in out.records]
    assert any(0 < r["trip_distance"] < 1 for r in short)


def test_csv_lax_numbers_and_empty_optional_cells() -> None:
    header = tuple(f.encode_name for f in msgspec.structs.fields(Ride))
    row = ",2020-07-01 00:25:32,2020-07-01 00:33:39,,.73,,,238,75,,8.,0.5,0.5,-.5,0,0.3,9.3,"
    out = CsvDecoder(Ride, "PULocationID").decode(cchunk(header, row + "\n"))
    assert not out.invalid
    rec = msgspec.json.decode(out.records[0][1])
    assert rec["VendorID"] is None and rec["trip_distance"] == 0.73 and rec["fare_amount"] == 8.0 and rec["tip_amount"] == -0.5


def test_csv_errors_name_line_column_and_reason() -> None:
    header = ("id", "name")
    body = '1,a\nx,b\n3\n"4,unterminated\n'
    out = CsvDecoder(Point, "id").decode(cchunk(header, body, first_line=2))
    assert [(r[0], r[2]) for r in out.records] == [(b"1", 2)]
    got = [(i.line, i.reason) for i in out.invalid]
    assert got == [(3, "schema"), (4, "csv"), (5, "csv")]
    assert "`$.id`" in out.invalid[0].message
    assert "expected 2 columns" in out.invalid[1].message
    assert out.invalid[1].offset == 10 + len("1,a\nx,b\n")


def test_a_carriage_return_alone_never_shifts_the_line_numbers_after_it() -> None:
    """Lines are what end in LF. Read from a text stream, the csv module also ended one at a lone CR: the rows after
    it were numbered one on, and an invalid row's dead letter carried the next line's text instead of its own."""
    from pump.decode.lines import LineIndex

    body = b'1,"a\rb"\nbad\n2,ok\n3,c\rd\n4,e\n'
    c = chunk(body, first_line=2, offset=8, path="in.csv", header=("id", "name"))
    out = CsvDecoder(None, "id").decode(c)
    assert [(r[0], r[2]) for r in out.records] == [(b"1", 2), (b"2", 4), (b"4", 6)]
    assert msgspec.json.decode(out.records[0][1]) == {"id": "1", "name": "a\rb"}  # quoted, a CR is text
    assert [(i.line, i.reason) for i in out.invalid] == [(3, "csv"), (5, "csv")]
    assert "carriage return (CR) inside an unquoted field" in out.invalid[1].message  # not the csv module's hint
    assert [LineIndex(c).raw(i.line) for i in out.invalid] == [b"bad", b"3,c\rd"]  # what a dead letter holds


def test_a_quoted_field_longer_than_the_csv_modules_default_limit_is_read() -> None:
    big = "x\n" * 100_000  # 200 KB, past the csv module's 128 KiB default, with newlines the cutter keeps inside
    body = f'1,"{big}"\nbad\n2,ok\n'.encode()
    out = CsvDecoder(None, "id").decode(chunk(body, first_line=2, path="in.csv", header=("id", "name")))
    assert [(r[0], r[2]) for r in out.records] == [(b"1", 2), (b"2", 100_004)]
    assert msgspec.json.decode(out.records[0][1])["name"] == big
    assert [(i.line, i.reason) for i in out.invalid] == [(100_003, "csv")]


def test_csv_header_without_schema_fields_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"in.csv:1: CSV header lacks column\(s\) name"):
        CsvDecoder(Point, None).decode(cchunk(("id",), "1\n"))


def test_csv_invalid_utf8_row_is_reported_not_mangled() -> None:
    out = CsvDecoder(None, None).decode(chunk(b"ok\n\xff\xfe\nfine\n", first_line=2, path="in.csv", header=("a",)))
    assert [r[1] for r in out.records] == [b'{"a":"ok"}', b'{"a":"fine"}']
    assert [(i.line, i.reason) for i in out.invalid] == [(3, "encoding")]


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(cells, cells, cells), max_size=20))
def test_csv_without_schema_round_trips_any_text(rows: list[tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    out = CsvDecoder(None, None).decode(cchunk(("a", "b", "c"), buf.getvalue()))
    # a row of empty cells is written as ",," and is a record, not a blank line
    assert not out.invalid
    assert [msgspec.json.decode(v) for _, v, _ in out.records] == [dict(zip("abc", r, strict=True)) for r in rows]


@given(st.lists(st.builds(Point, id=st.integers(-(2**63), 2**63 - 1), name=st.text()), max_size=20))
def test_jsonl_with_schema_round_trips(points: list[Point]) -> None:
    data = b"\n".join(msgspec.json.encode(p) for p in points)
    out = JsonLinesDecoder(Point, "id").decode(jchunk(data))
    assert [msgspec.json.decode(v, type=Point) for _, v, _ in out.records] == points
    assert [k for k, _, _ in out.records] == [str(p.id).encode() for p in points]


@pytest.mark.parametrize(
    ("inputs", "settings", "cores", "processes"),
    [
        ([("big.csv", 40 << 20)], {}, 2, 2),  # big CSV on two cores: parse it on both
        ([("big.csv", 40 << 20)], {}, 8, 2),  # two are enough to keep the sender busy
        ([("big.csv", 40 << 20)], {}, 1, 0),  # one core: processes would only compete
        ([("small.csv", 1 << 20)], {}, 2, 0),  # not worth starting them
        ([("a.csv", 20 << 20), ("b.csv.gz", 20 << 20)], {}, 2, 2),  # the whole run's size counts
        ([("big.jsonl", 400 << 20)], {}, 2, 0),  # JSON lines validate faster than they could be shipped
        ([("-", None)], {"format": "csv"}, 2, 2),  # stdin: size unknown, could be anything
        ([("-", None)], {}, 2, 0),  # stdin of unknown format: the name says nothing, stay inline
        ([("big.jsonl", 400 << 20)], {"decode_processes": 3}, 2, 3),  # asked for: as asked
        ([("big.csv", 40 << 20)], {"decode_processes": 0}, 2, 0),
    ],
)
def test_without_pyarrow_decode_processes_by_default_only_for_big_csv_on_several_cores(
    inputs: list[tuple[str, int | None]], settings: dict, cores: int, processes: int
) -> None:
    sources = [FileSource(name, size) for name, size in inputs]
    chosen = decode_processes_for(InputSettings(paths=tuple(n for n, _ in inputs), **settings), sources, cores, arrow=False)
    assert chosen == processes


def test_with_pyarrow_big_csv_is_decoded_by_arrow_in_the_main_process() -> None:
    sources = [FileSource("big.csv", 40 << 20)]
    assert decode_processes_for(InputSettings(paths=("big.csv",)), sources, 2, arrow=True) == 0
    assert decode_processes_for(InputSettings(paths=("big.csv",), decode_processes=2), sources, 2, arrow=True) == 2


def test_keys_equal_as_python_values_but_not_as_kafka_keys_stay_apart() -> None:
    # the decoder remembers each key's bytes; 1, True and 1.0 are one dict key, yet three Kafka keys
    decoder = JsonLinesDecoder(None, "k")
    lines = b'{"k": 1}\n{"k": true}\n{"k": 1.0}\n{"k": "1"}\n{"k": 1}\n{"k": false}\n{"k": 0}\n'
    for _ in range(2):  # the second chunk is served from what the first one taught the decoder
        out = decoder.decode(jchunk(lines))
        assert [key for key, _, _ in out.records] == [b"1", b"true", b"1.0", b"1", b"1", b"false", b"0"]


def test_crlf_blank_and_whitespace_lines_are_found_off_the_fast_path() -> None:
    out = JsonLinesDecoder(Point, "id").decode(jchunk(b'{"id":1,"name":"a"}\r\n\r\n \t \r\n{"id":2,"name":"b"}\r\n{"id":3}\r\n'))
    assert [(k, v, n) for k, v, n in out.records] == [(b"1", b'{"id":1,"name":"a"}', 1), (b"2", b'{"id":2,"name":"b"}', 4)]
    assert out.blank == 2 and [(i.line, i.reason) for i in out.invalid] == [(5, "schema")]
