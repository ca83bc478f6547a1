"""Telling CSV from JSON lines, and where records end in a buffer of either."""

from __future__ import annotations

import csv
import io
import re
from functools import cache

from pump.arrowlib import load
from pump.errors import InputError
from pump.input.source import RecordFormat

BOM = b"\xef\xbb\xbf"


def _bare_name(path: str) -> str:
    """The name, lower case, without a compression's extension."""
    name = path.lower()
    for ext in (".gz", ".gzip", ".zst", ".zstd"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def format_by_name(path: str) -> RecordFormat | None:
    name = _bare_name(path)
    if name.endswith((".csv", ".tsv", ".tab")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def format_by_content(data: bytes) -> RecordFormat:
    start = data[len(BOM) :] if data.startswith(BOM) else data
    return "jsonl" if start.lstrip()[:1] in (b"{", b"[") else "csv"


def delimiter_by_name(path: str) -> str:
    """A CSV file's field separator unless ``--delimiter`` says: a tab for ``.tsv`` and ``.tab``, else a comma."""
    return "\t" if _bare_name(path).endswith((".tsv", ".tab")) else ","


# One CSV record as the csv module (strict, as ``decode.csvrows`` reads) reads it, ``{d}`` its delimiter: a quote opens
# a quoted field only where a field starts (the line's start, or after a delimiter), ``""`` inside one is a quote, and
# any other quote is text (``TV 55" LED``). Where the csv module fails a row mid-line (a closing quote followed by
# anything but a delimiter or the line's end; a CR alone outside quotes), it drops the rest of that line, quotes and
# all, and starts afresh on the next: so does this. Counting quotes' parity instead took a quote inside a field for an
# opening one: every newline after it looked quoted, so a chunk was cut inside a real quoted field further on, or
# never cut again (the run failed at 64 MiB). Possessive and atomic, so a record whose quote is not closed yet fails
# at once, never backtracking.
_RECORD = r'(?>[^"\r\n]++|\r(?=\n)|\r[^\n]*+|(?<![^{d}\n])"[^"]*+(?:""[^"]*+)*+"(?:(?=[{d}\r\n])|[^\n]*+)|(?<=[^{d}\n])")*+\n'


@cache
def _record_patterns(delimiter: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """(any number of whole records, the first record) for CSV with this delimiter."""
    record = _RECORD.format(d=regex_char(delimiter)).encode()
    return re.compile(rb"(?:" + record + rb")*+"), re.compile(record)


def regex_char(char: str) -> str:
    """An ASCII character as a regex escape that Python's re and Arrow's RE2 both read, in a class or out."""
    return f"\\x{ord(char):02x}"


def boundary(buf: bytes, delimiter: str | None) -> int:
    """Index just past the last record boundary in ``buf``, or 0 if there is none: after a newline, and for CSV
    (``delimiter`` given) only one outside a quoted field (``_RECORD``). Most CSV has no quote: a search for one,
    then a plain cut. Where every quote is RFC 4180's (``_clean``), counting them tells where fields are quoted, as
    the csv module reads them: 0.4 ms and an RE2 search of 1 ms for 512 KiB of quoted rides, where ``_RECORD``
    (Python's re, which also knows every other quote) took 9.7 ms on the event loop."""
    nl = buf.rfind(b"\n")
    if nl < 0 or delimiter is None or buf.find(b'"', 0, nl) < 0:
        return nl + 1
    cut = _even_quotes(buf, nl)
    if cut and _clean(buf, cut, delimiter):
        return cut
    return _record_patterns(delimiter)[0].match(buf, 0, nl + 1).end()  # type: ignore[union-attr]  # if only ""


def _even_quotes(buf: bytes, nl: int) -> int:
    """Just past the last newline (from ``nl`` back) with an even number of quotes before it; 0 if none."""
    quotes = buf.count(b'"', 0, nl)
    while quotes & 1:
        prev = buf.rfind(b"\n", 0, nl)
        if prev < 0:
            return 0
        quotes -= buf.count(b'"', prev, nl)
        nl = prev
    return nl + 1


def _clean(buf: bytes, end: int, delimiter: str) -> bool:
    """Whether ``buf[:end]`` is rows whose every quote is RFC 4180's (``rfc4180_rows``, newlines allowed inside a
    quoted cell). Asked of RE2 (pyarrow's), where pump has it; without pyarrow, never (``_RECORD``)."""
    if not load("pyarrow.compute"):
        return False
    from pump.input.re2 import matches

    return matches(buf, rfc4180_rows(delimiter, newlines_in_quotes=True), end)


@cache
def rfc4180_rows(delimiter: str, newlines_in_quotes: bool) -> str:
    """A pattern (RE2's and Python's) for rows, each ending in LF or CRLF (the last may lack its end), whose every
    quote is RFC 4180's: a quoted cell is a whole cell (``""`` inside it a quote) followed by a delimiter or the
    line's end, an unquoted cell holds no quote, and a CR outside quotes only ends a line. The strict csv module reads
    such rows as Arrow's CSV reader does, and where their quotes are, as counting them says."""
    d = regex_char(delimiter)
    inside = '[^"]' if newlines_in_quotes else '[^"\r\n]'
    cell = f'(?:"(?:{inside}|"")*"|[^"{d}\r\n]*)'
    row = f"{cell}(?:{d}{cell})*"
    return f"^(?:{row}\r?\n)*(?:{row})?$"


def first_record_end(buf: bytes, eof: bool, delimiter: str) -> int:
    """End of the first CSV record (the header), quote-aware; 0 if it is not complete yet."""
    whole = _record_patterns(delimiter)[1].match(buf)
    if whole is not None:
        return whole.end()
    return len(buf) if eof else 0


def parse_header(raw: bytes, path: str, delimiter: str, chosen: bool = False) -> tuple[str, ...]:
    """The header's column names. A name given twice is refused (a record's object would keep one of its cells); so
    is a header of one column holding a tab, a semicolon or a pipe (a file separated by those, read with commas), with
    a hint, unless the delimiter was ``chosen`` (``--delimiter``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"CSV header is not valid UTF-8 ({exc.reason})", line=1) from None
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    if not rows or not rows[0]:
        raise InputError(path, "CSV header is empty", line=1)
    header = tuple(name.strip() for name in rows[0])
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(path, f"the CSV header names {', '.join(map(repr, twice))} more than once: each record is a JSON"
                         " object, which holds a name once (rename the columns in line 1)", line=1)  # fmt: skip
    if len(header) == 1 and not chosen:
        for other, name in (("\t", "tab"), (";", ";"), ("|", "|")):
            if other in header[0]:
                raise InputError(
                    path,
                    f"the CSV header is one column, {header[0]!r}: for fields separated by {name!r}, say --delimiter"
                    f" {name!r} (or --delimiter {delimiter!r} to read it as it is)",
                    line=1,
                )
    return header
