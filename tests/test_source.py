"""The reader: whole records per chunk, right line numbers and offsets, whatever the chunk size."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pump.errors import InputError
from pump.input import Chunk, FileSource, Position, open_sources
from pump.input.compression import GZIP_MAGIC, ZSTD_MAGIC
from pump.input.cutter import Cutter
from pump.input.formats import BOM
from tests.support.decoding import read_decoded


def read_chunks(path: str, fmt: str = "auto", chunk_bytes: int = 7, start: Position | None = None) -> AsyncIterator[Chunk]:
    return FileSource(path, None, fmt).chunks(start or Position(0, 1), chunk_bytes)


async def chunks_of(path: Path, chunk_bytes: int = 7, fmt: str = "auto") -> list[Chunk]:
    return [c async for c in read_chunks(str(path), fmt, chunk_bytes)]


def lines_with_numbers(chunks: list[Chunk]) -> list[tuple[int, bytes]]:
    out = []
    for c in chunks:
        parts = c.data.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()
        out.extend((c.first_line + i, p) for i, p in enumerate(parts))
    return out


line_text = st.binary(max_size=40).filter(lambda b: b"\n" not in b and b'"' not in b)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line_text, max_size=30), chunk=st.integers(1, 50), final_newline=st.booleans())
def test_chunks_hold_whole_lines_with_their_numbers_and_offsets(
    tmp_path: Path, lines: list[bytes], chunk: int, final_newline: bool
) -> None:
    import asyncio

    body = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    assume(not body.startswith(BOM))  # a leading BOM is stripped on purpose (its own test below)
    # input is recognised as gzip/zstd by its first bytes; no UTF-8 text can start with them
    assume(not body.startswith((GZIP_MAGIC, ZSTD_MAGIC)))
    assume(not body.lstrip().startswith(b"["))  # a JSON array, refused whole (its own test below)
    path = tmp_path / "in.jsonl"
    path.write_bytes(body)
    chunks = asyncio.run(chunks_of(path, chunk, "jsonl"))
    assert b"".join(c.data for c in chunks) == body
    for c in chunks:
        assert body[c.offset : c.offset + len(c.data)] == c.data
        assert c.data.endswith(b"\n") or c is chunks[-1]
        assert c.first_line == 1 + body[: c.offset].count(b"\n")


async def test_bom_is_stripped_and_offsets_count_it(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a":1}\r\n{"a":2}')
    chunks = await chunks_of(path, 4)
    assert b"".join(c.data for c in chunks) == b'{"a":1}\r\n{"a":2}'
    assert chunks[0].offset == 3


async def test_line_longer_than_a_chunk_stays_whole(tmp_path: Path) -> None:
    long = b'{"k":"' + b"x" * 5000 + b'"}'
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"k":1}\n' + long + b"\n{}\n")
    got = lines_with_numbers(await chunks_of(path, 100))
    assert got == [(1, b'{"k":1}'), (2, long), (3, b"{}")]


@pytest.mark.parametrize("compress", ["gzip", "gzip-multi", "zstd", "zstd-multi"])
async def test_compressed_input_is_found_by_magic_bytes(tmp_path: Path, compress: str) -> None:
    body = b"".join(b'{"n":%d}\n' % i for i in range(2000))
    half = len(body) // 2
    if compress == "gzip":
        blob = gzip.compress(body)
    elif compress == "gzip-multi":
        blob = gzip.compress(body[:half]) + gzip.compress(body[half:])
    elif compress == "zstd":
        blob = zstandard.ZstdCompressor().compress(body)
    else:
        c = zstandard.ZstdCompressor()
        blob = c.compress(body[:half]) + c.compress(body[half:])
    path = tmp_path / "data.bin"  # no telling extension: detection is by content
    path.write_bytes(blob)
    chunks = await chunks_of(path, 1000)
    assert b"".join(c.data for c in chunks) == body
    assert {c.format for c in chunks} == {"jsonl"}


async def test_truncated_gzip_delivers_what_came_before_then_fails_naming_the_file(tmp_path: Path) -> None:
    body = b"".join(b'{"n":%d}\n' % i for i in range(20000))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(body)[:-5000])
    got: list[Chunk] = []
    with pytest.raises(InputError, match=r"cut\.jsonl\.gz:\d+: cannot decompress: truncated gzip"):
        async for c in read_chunks(str(path), "auto", 4096):
            got.append(c)
    data = b"".join(c.data for c in got)
    assert data and body.startswith(data)
    assert data.endswith(b"\n"), "the line cut off by the damage must not be delivered"


async def test_csv_quoted_newlines_never_split_a_record(tmp_path: Path) -> None:
    rows = [["id", "text"]] + [[str(i), f'line one\nline "two" {i}'] for i in range(300)]
    buf = io.StringIO()
    import csv

    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "q.csv"
    path.write_text(buf.getvalue())
    chunks = await chunks_of(path, 37)
    assert all(c.header == ("id", "text") for c in chunks)
    parsed = [r for c in chunks for r in csv.reader(io.StringIO(c.data.decode(), newline=""))]
    assert parsed == rows[1:]
    assert chunks[0].first_line == 2


@pytest.mark.parametrize("chunk_bytes", [7, 64, 4096])
async def test_a_quote_inside_an_unquoted_field_is_text_and_rows_after_it_are_still_cut_whole(
    tmp_path: Path, chunk_bytes: int
) -> None:
    """``TV 55" LED``: the csv module reads that quote as text (a quote opens a field only where one starts). Counted
    as an opening quote, it made every newline after it look quoted: the cutter then cut inside the real quoted field
    further on, or never cut again (a run failed at 64 MiB, having sent nothing)."""
    import csv

    rows = [["id", "name"], ["0", 'TV 55" LED']] + [[str(i), f"item {i}"] for i in range(1, 60)]
    rows += [["60", 'line one\nline "two"'], ["61", "x"]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    body = buf.getvalue().replace('"TV 55"" LED"', 'TV 55" LED')  # the quote left bare, as messy exports have it
    path = tmp_path / "stray.csv"
    path.write_text(body)
    chunks = await chunks_of(path, chunk_bytes)
    assert len(chunks) > len(body) // chunk_bytes // 2  # cut as it goes, not carried to the end
    parsed = [r for c in chunks for r in csv.reader(io.StringIO(c.data.decode(), newline=""))]
    assert parsed == rows[1:]  # every chunk ends where a row does, the quoted newline inside its chunk


@pytest.mark.parametrize(
    ("buf", "cut"),
    [
        (b'"a"x,"b\nc\nd,"e\n', b'"a"x,"b\nc\n'),  # the csv module fails the row at x and drops the rest of its line
        (b'a\rb,"c\nd,"e\n', b'a\rb,"c\n'),  # so at a CR alone: d," then opens a field, which e's line is inside
        (b'"a"x,"b\nc\nd,"e\nf"\ng', b'"a"x,"b\nc\nd,"e\nf"\n'),
        (b'1,"x\n""y""\n",2\n3,"', b'1,"x\n""y""\n",2\n'),
    ],
)
def test_a_csv_chunk_ends_where_the_csv_module_ends_a_row_even_after_a_row_it_fails(buf: bytes, cut: bytes) -> None:
    from pump.input.formats import boundary

    assert buf[: boundary(buf, ",")] == cut


@settings(max_examples=200, deadline=None)
@given(body=st.text(st.sampled_from('ab1,"\n\r '), max_size=80), block=st.integers(1, 20))
def test_csv_decodes_alike_however_its_bytes_arrive(body: str, block: int) -> None:
    """Quotes anywhere, lone CRs: whatever the cutter and the decoder make of a CSV, they make it whatever the chunks."""
    from pump.decode import build_decoders

    data = b"id,name\n" + body.encode()
    decoders = build_decoders(None, "id")
    assert read_decoded(data, "csv", block, decoders) == read_decoded(data, "csv", len(data), decoders)


@pytest.mark.parametrize(("name", "delimiter"), [("t.tsv", None), ("t.tab.gz", None), ("t.txt", "\t"), ("t.csv", ";")])
async def test_tab_separated_files_by_name_and_other_delimiters_by_choice_are_cut_where_rows_end(
    tmp_path: Path, name: str, delimiter: str | None
) -> None:
    import csv

    sep = delimiter or "\t"
    rows = [["id", "text"]] + [[str(i), f'a{sep}b, "c"\nd' if i % 3 == 0 else f"plain {i}"] for i in range(60)]
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
    path = tmp_path / name
    path.write_bytes(gzip.compress(buf.getvalue().encode()) if name.endswith(".gz") else buf.getvalue().encode())
    chunks = [c async for c in FileSource(str(path), None, "csv", delimiter=delimiter).chunks(Position(0, 1), 23)]
    assert all(c.header == ("id", "text") and c.delimiter == sep for c in chunks) and len(chunks) > 3
    parsed = [r for c in chunks for r in csv.reader(io.StringIO(c.data.decode(), newline=""), delimiter=sep)]
    assert parsed == rows[1:]


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
async def test_a_header_of_one_column_holding_a_likely_delimiter_is_refused_with_a_hint(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"id{sep}name\n1{sep}a\n")
    name = "tab" if sep == "\t" else sep
    with pytest.raises(InputError, match=rf"t.csv:1: .* say --delimiter '{re.escape(name)}'"):
        await chunks_of(path, 64)
    chunks = [c async for c in FileSource(str(path), None, "auto", delimiter=",").chunks(Position(0, 1), 64)]
    assert chunks[0].header == (f"id{sep}name",)  # chosen: read as it is


async def test_a_header_naming_a_column_twice_is_refused_before_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "joined.csv"
    path.write_text("id,name,id,zone,zone\n1,a,2,x,y\n")  # one of each pair would be lost from every record
    with pytest.raises(InputError, match=r"joined.csv:1: the CSV header names 'id', 'zone' more than once"):
        await chunks_of(path, 64)


async def test_header_only_csv_gives_no_chunks(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b,c")
    assert await chunks_of(path) == []


def test_missing_empty_directory_and_unreadable_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        open_sources((str(tmp_path / "nope.csv"),))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: holds no file to read"):  # a folder is its files: here, none
        open_sources((str(tmp_path / "empty"),))


@pytest.mark.parametrize("compress", [False, True])
async def test_resuming_starts_at_the_position_with_its_line_number_and_rereads_the_csv_header(
    tmp_path: Path, compress: bool
) -> None:
    rows = [f"{i},row {i}" for i in range(500)]
    body = ("id,text\n" + "\n".join(rows) + "\n").encode()
    path = tmp_path / "in.csv"
    path.write_bytes(gzip.compress(body) if compress else body)
    at = body.index(b"200,row 200")  # line 202: the header is line 1
    got = [c async for c in read_chunks(str(path), "auto", 333, Position(at, 202))]
    assert got[0].header == ("id", "text") and (got[0].first_line, got[0].offset) == (202, at)
    assert b"".join(c.data for c in got) == body[at:]


def test_cutter_gives_whole_records_as_blocks_arrive_and_the_rest_at_the_end() -> None:
    cutter = Cutter("mem.jsonl", "auto", Position(0, 1), can_seek=False)
    assert cutter.feed(b'{"a": 1}\n{"a"') is not None
    assert cutter.feed(b": 2}") is None  # no newline yet: nothing whole
    last = cutter.feed(b"")
    assert last is not None and (last.data, last.first_line, last.offset) == (b'{"a": 2}', 2, 9)


@pytest.mark.parametrize(("body", "line"), [(b'[\n  {"a": 1},\n  {"a": 2}\n]\n', 1), (b'\n\n [{"a": 1}, {"a": 2}]', 3)])
def test_a_json_array_is_refused_in_one_line_naming_where_it_starts(body: bytes, line: int) -> None:
    cutter = Cutter("export.json", "auto", Position(0, 1), can_seek=False)
    with pytest.raises(InputError, match=r"a JSON array, not JSON lines: .*jq -c '\.\[\]' export\.json") as caught:
        cutter.feed(body)
    assert caught.value.line == line
    later = Cutter("ok.json", "auto", Position(0, 1), can_seek=False)  # an array further on is one invalid line
    assert later.feed(b'{"a": 1}\n[1, 2]\n') is not None
    blocks = Cutter("export.json", "auto", Position(0, 1), can_seek=False)  # its bracket in a later block
    blank = [blocks.feed(b"\n "), blocks.feed(b" \n")]  # blank lines, handed on as such
    assert [(c.first_line, c.data) for c in blank if c is not None] == [(1, b"\n"), (2, b"  \n")]
    with pytest.raises(InputError) as caught:
        blocks.feed(b'\n[{"a": 1}]')
    assert caught.value.line == 4


async def test_by_default_csv_is_read_in_half_the_bytes_of_json_lines(tmp_path: Path) -> None:
    """A CSV row becomes a JSON object about four times its size: 512 KiB chunks of CSV, 1 MiB of JSON lines, unless
    ``--chunk-bytes`` says; the first CSV read is a JSON-lines one, before the cutter has seen the format."""
    row = b"1,2020-07-01 00:00:40,.08,N\n"
    (tmp_path / "a.csv").write_bytes(b"id,at,d,f\n" + row * ((3 << 20) // len(row)))
    (tmp_path / "a.jsonl").write_bytes(b'{"id":1}\n' * ((3 << 20) // 9))
    csv = [len(c.data) for c in await chunks_of(tmp_path / "a.csv", None)]  # type: ignore[arg-type]
    jsonl = [len(c.data) for c in await chunks_of(tmp_path / "a.jsonl", None)]  # type: ignore[arg-type]
    assert all(abs(n - (512 << 10)) < len(row) for n in csv[1:-1])  # a read, give or take the row cut across it
    assert all(abs(n - (1 << 20)) < 9 for n in jsonl[:-1])
    assert [len(c.data) for c in await chunks_of(tmp_path / "a.csv", 100_000)][1] > 99_000
