"""Telling CSV from JSON lines, and where records end in a buffer of either."""

from __future__ import annotations

import csv
import io
import re

from pump.errors import InputError
from pump.input.source import RecordFormat

BOM = b"\xef\xbb\xbf"


def format_by_name(path: str) -> RecordFormat | None:
    name = path.lower()
    for ext in (".gz", ".gzip", ".zst", ".zstd"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def format_by_content(data: bytes) -> RecordFormat:
    start = data[len(BOM) :] if data.startswith(BOM) else data
    return "jsonl" if start.lstrip()[:1] in (b"{", b"[") else "csv"


# One CSV record as the csv module (strict, as ``decode.csvrows`` reads) reads it: a quote opens a quoted field only
# where a field starts (the line's start, or after a comma), ``""`` inside one is a quote, and any other quote is text
# (``TV 55" LED``). Where the csv module fails a row mid-line (a closing quote followed by anything but a comma or the
# line's end; a CR alone outside quotes), it drops the rest of that line, quotes and all, and starts afresh on the
# next: so does this. Counting quotes' parity instead took a quote inside a field for an opening one: every newline
# after it looked quoted, so a chunk was cut inside a real quoted field further on, or never cut again (the run failed
# at 64 MiB). Possessive and atomic, so a record whose quote is not closed yet fails at once, never backtracking.
_RECORD = rb'(?>[^"\r\n]++|\r(?=\n)|\r[^\n]*+|(?<![^,\n])"[^"]*+(?:""[^"]*+)*+"(?:(?=[,\r\n])|[^\n]*+)|(?<=[^,\n])")*+\n'
_RECORDS = re.compile(rb"(?:" + _RECORD + rb")*+")
_FIRST = re.compile(_RECORD)


def boundary(buf: bytes, csv_quotes: bool) -> int:
    """Index just past the last record boundary in ``buf``, or 0 if there is none: after a newline, and for CSV
    only one outside a quoted field (``_RECORD``). Most CSV has no quote: a search for one, then a plain cut."""
    nl = buf.rfind(b"\n")
    if nl < 0 or not csv_quotes or buf.find(b'"', 0, nl) < 0:
        return nl + 1
    return _RECORDS.match(buf, 0, nl + 1).end()  # type: ignore[union-attr]  # it matches, if only the empty string


def first_record_end(buf: bytes, eof: bool) -> int:
    """End of the first CSV record (the header), quote-aware; 0 if it is not complete yet."""
    whole = _FIRST.match(buf)
    if whole is not None:
        return whole.end()
    return len(buf) if eof else 0


def parse_header(raw: bytes, path: str) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"CSV header is not valid UTF-8 ({exc.reason})", line=1) from None
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if not rows or not rows[0]:
        raise InputError(path, "CSV header is empty", line=1)
    return tuple(name.strip() for name in rows[0])
