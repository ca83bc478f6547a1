"""CSV rows -> records in Apache Arrow's C++ (pyarrow, when installed): the fast path of ``csvrows``.

A chunk of plain rows (no blank line, no CR but one ending a line in CRLF, quotes only as RFC 4180 has them
and no newline inside one: one row a line, so row ``i`` is line ``first_line + i``) is split into cells by
Arrow's CSV reader, each column checked and turned into
JSON text (a number cell already in JSON's form is its own text: no parsing and printing back;
datetimes, and numbers in other forms, are typed by Arrow and written by ``arrow.JsonLines``), and
the columns joined into each row's JSON object. Arrow releases the GIL for all of that, so such a
chunk is decoded on a worker thread while the event loop sends (``stage.InlineDecode``).

The Python path stays the reference, and this one takes a chunk only where it would give the
same records: every cell Arrow reads is one the Python path reads to the same value (ints,
floats, text; datetimes only in the ``YYYY-MM-DD[T ]HH:MM:SS[.ffffff]`` form, without a zone). A
chunk with anything else (a cell Arrow refuses, an empty required cell, another datetime form,
a row of another width, invalid UTF-8, a null key) returns None and goes through the Python
path whole, which reports each bad row with its line as it always has. A schema with other
field types, constraints, a tag, ``omit_defaults``, or a header that lacks one of its fields
(defaults would fill it) never takes this path (``ArrowRows.of`` returns None).

Values are the same JSON as the Python path's, field for field; number text may differ in form,
never in value (``2.50`` as written, ``1.234567890125e11`` for ``123456789012.5``).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import inspect as mi

from pump.arrowlib import load
from pump.decode.parsed import Columns, Parsed, Share
from pump.input import Chunk
from pump.input.formats import regex_char, rfc4180_rows

if TYPE_CHECKING:
    from pump.decode.arrowjson import Text  # pyarrow is imported at the first CSV chunk, not before

# The forms of cells, without anchors: a row's pattern is built from them (``_rows_pattern``), and one search
# over the whole chunk (Arrow's RE2: 0.2 us a row for the rides, where a search per column took 0.66) tells
# whether every cell is in its column's form. Number cells in form are their own JSON text, up to form (``2.5e3``,
# ``0`` for a float); a float may also start with its point (``.73``: TLC exports do), which gets its 0
# (``_leading_point``). Digits are not counted in this pattern (bounded counts made it three times as slow to
# compile, 1.3 ms a chunk, and slower to run): a column whose longest cell is longer than ``_LONGEST`` allows
# (a 64-bit int holds 18 digits; a float cell of 15 characters neither overflows nor, as an int's digits,
# loses any in a double) is checked on its own with counted digits (``_JSON_NUMBER``).
_FORMS = {
    "datetime": r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?",
    "int": r"(?:0|-?[1-9][0-9]*)",  # not -0: the Python path's key for it is "0"
    "float": r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,2})?",
    # text that is its own JSON string's content: no control character, backslash or quote to escape (a chunk with a
    # quoted cell is never in form), nor the delimiter (``{d}``, filled in by ``_rows_pattern``)
    "str": r'[^{d}"\x00-\x1f\\]*',
}
_LONGEST = {"int": 18, "float": 15}
_DATETIME = f"^{_FORMS['datetime']}$"
_JSON_NUMBER = {
    "int": r"^(?:0|-?[1-9][0-9]{0,17})$",
    # a float cell without a point or an exponent reads back as an int: at most 15 digits, which a double holds
    # exactly (``12345678901234567890`` would be read as that int, where the Python path writes the double
    # 1.2345678901234567e+19); with either, 20 digits each side and a two-digit exponent keep it finite
    "float": r"^-?(?:0|[1-9][0-9]{0,14}|(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,20}(?:[eE][-+]?[0-9]{1,2})?|[eE][-+]?[0-9]{1,2}))$",
}


def _rows_pattern(header: tuple[str, ...], columns: list[tuple[str, str, bool]], delimiter: str = ",") -> str:
    """Rows whose every cell is in its column's form, a line each (the last one may lack its newline)."""
    kinds = {name: (kind, nullable) for name, kind, nullable in columns}
    d = regex_char(delimiter)
    cells = []
    for name in header:
        if name not in kinds:  # a column left out of the records: any text but a CR (a row ends in LF or CRLF)
            cells.append(f"[^{d}\r\n]*")
            continue
        kind, nullable = kinds[name]
        form = _FORMS[kind].replace("{d}", d)
        cells.append(f"(?:{form})?" if nullable and kind != "str" else form)
    row = d.join(cells)
    return f"^(?:{row}\r?\n)*(?:{row})?$"


def available() -> bool:
    return load("pyarrow.csv", "pyarrow.compute")


def plain(data: bytes, width: int) -> bool:
    """Rows a line each: Arrow's row ``i`` is the chunk's line ``first_line + i``. A blank line is no row to the
    Python path but a row of empty cells to Arrow (nulls, whatever the header's width), so a chunk must have none.
    Searching for one costs 100 ns a row, more than all the other checks, so here only a one-column chunk is
    searched; a wider one only where its rows are not all in form (``ArrowRows.decode``: a blank line never is). In
    one column, a line of only whitespace is blank to the Python path too (Python's, Unicode's: ``str.strip``),
    where under more columns it is a row of one cell, which Arrow refuses. Lines may end in CRLF (Windows' exports:
    Arrow reads them at the same speed); a CR elsewhere is looked for as a blank line is."""
    if data.startswith((b"\n", b"\r\n")):
        return False
    if width > 1:
        return True  # quotes are checked with the rows (``formats.rfc4180_rows``)
    # in one column, a quoted empty or blank cell ("", " ") is a blank line to the Python path and a cell to Arrow
    return b'"' not in data and _BLANK.search(data.decode("utf-8", "surrogateescape")) is None


_BLANK = re.compile(r"^[^\S\n]*\n|^[^\S\n]+\Z", re.MULTILINE)  # an empty or whitespace line; ``\s`` is str.isspace
# A blank line (LF or CRLF), or a CR that does not end a line: Arrow ends a row at a CR alone, where the Python path
# (the csv module, given lines split at LF) fails the row. Searched by RE2, which releases the GIL (Python's re took
# 3.4 ms a 512 KiB chunk, holding it).
_BLANK_OR_CR = r"\n\r?\n|\r[^\n]|\r$"


def field_kind(t: mi.Type) -> tuple[str, bool, bool | None] | None:
    """(kind, nullable, a datetime's ``tz`` rule) of a field type whose values Arrow's text gives as the Python path
    would (no constraints; a datetime that does not require a zone), else None. Also what ``vouch`` proves rows by."""
    nullable = False
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        if len(members) != 1:
            return None
        nullable, t = len(members) < len(t.types), members[0]
    if isinstance(t, mi.IntType | mi.FloatType):
        bounded = (t.gt, t.ge, t.lt, t.le, t.multiple_of) != (None,) * 5
        return None if bounded else ("int" if isinstance(t, mi.IntType) else "float", nullable, None)
    if isinstance(t, mi.StrType):
        return None if (t.min_length, t.max_length, t.pattern) != (None, None, None) else ("str", nullable, None)
    if isinstance(t, mi.DateTimeType) and t.tz is not True:
        return "datetime", nullable, t.tz
    return None


class ArrowRows:
    """How rows under one header become records in Arrow; ``of`` says whether they can."""

    def __init__(
        self, header: tuple[str, ...], columns: list[tuple[str, str, bool]], key: str | None, delimiter: str = ","
    ) -> None:
        import pyarrow as pa

        from pump.decode.arrowjson import JsonLines

        self.header = header
        self.delimiter = delimiter
        self.columns = columns  # (name, kind, nullable) in the order of the JSON value's fields
        self.key = key  # the column whose text is the key
        self._key_at = next((i for i, (name, _, _) in enumerate(columns) if name == key), -1)
        self._types = {name: pa.string() for name, _, _ in columns}  # cells as text: numbers are often JSON already
        self._rows = _rows_pattern(header, columns, delimiter)
        # Arrow and the strict csv module read quotes alike only there (no newline inside one: rows stay lines); any
        # other quote (text after a closing one, one inside an unquoted cell) leaves the chunk to the csv module
        self._quoted_rows = rfc4180_rows(delimiter, newlines_in_quotes=False)
        # the fields' names and order, for the JSON objects' prefixes: each column's text comes from ``_text``
        self._to_json = JsonLines(pa.schema([(name, pa.string()) for name, _, _ in columns]))

    @classmethod
    def of(
        cls, header: tuple[str, ...], schema: type[msgspec.Struct] | None, key_field: str | None, delimiter: str = ","
    ) -> ArrowRows | None:
        if not available() or len(set(header)) != len(header):
            return None
        if schema is None:
            key = key_field if key_field in header else None
            return cls(header, [(name, "str", False) for name in header], key, delimiter)
        info = mi.type_info(schema)
        assert isinstance(info, mi.StructType)
        if info.tag is not None or info.array_like or schema.__struct_config__.omit_defaults:
            return None
        names = [f.encode_name for f in info.fields]
        if not set(names) <= set(header) or (info.forbid_unknown_fields and len(names) != len(header)):
            return None
        columns = []
        key = None
        for f in info.fields:
            kind = field_kind(f.type)
            if kind is None:
                return None
            columns.append((f.encode_name, *kind[:2]))
            if key_field in (f.name, f.encode_name):
                if kind[0] not in ("int", "str"):
                    return None
                key = f.encode_name
        return cls(header, columns, key, delimiter)

    def _text(self, cells: Any, kind: str, nullable: bool, formed: bool) -> Text | None:
        """A column's JSON text from its cells' text (an empty cell read as null); None where the Python path must
        decode the chunk. ``formed``: every cell is known to be in its column's form (``_rows_pattern``), so no cell
        needs checking again, and a text cell needs no escaping. Each kernel call costs 10-30 us and hands the GIL
        back and forth, more than its work on most columns, so a formed chunk's columns make few."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if kind == "str":
            if cells.null_count:
                cells = pc.fill_null(cells, "")
            return (cells, True) if formed else self._to_json.text(cells)
        if cells.null_count and not nullable:  # an empty required cell
            return None
        if kind == "datetime":
            if not formed and pc.all(pc.match_substring_regex(cells, _DATETIME)).as_py() is False:
                return None
            typed = pc.cast(cells, pa.timestamp("us"))  # a real date and time, or ArrowInvalid
            if _longest(cells) == len("YYYY-MM-DD HH:MM:SS"):  # whole seconds: msgspec's text, with its T
                return pc.replace_substring(cells, " ", "T", max_replacements=1), True
        elif formed and _longest(cells) <= _LONGEST[kind]:
            return (_leading_point(cells) if kind == "float" else cells), False
        elif pc.all(pc.match_substring_regex(cells, _JSON_NUMBER[kind])).as_py() is not False:
            return cells, False
        else:
            typed = pc.cast(cells, pa.int64() if kind == "int" else pa.float64())
        return self._to_json.text(typed)

    def decode(self, chunk: Chunk, share: Share | None, columnar: bool = False) -> Parsed | None:
        """The chunk's records, or None where the Python path must decode it. ``columnar`` (without a ``share``):
        as ``Parsed.columns``, the Python objects left unmade."""
        from pump.input.re2 import matches

        data = chunk.data
        if not data or not plain(data, len(self.header)):
            return None
        if not data.isascii():
            try:
                data.decode()
            except UnicodeDecodeError:
                return None
        quoted = b'"' in data
        if quoted and not matches(data, self._quoted_rows):
            return None
        table = self._table(data, quoted)
        if table is None:
            return None
        formed = not quoted and matches(data, self._rows)  # a quoted cell is in no column's form
        if not formed and matches(data, _BLANK_OR_CR):  # ``plain``; a formed chunk has neither
            return None
        texts = self._texts(table, formed)
        keys = self._keys(table, texts) if texts is not None and self.key is not None else None
        if texts is None or (self.key is not None and keys is None):
            return None
        columns = Columns(keys, self._to_json.values_array(texts), chunk.first_line)
        if columnar and share is None:
            return Parsed(columns=columns)
        records = columns.records()
        return Parsed(records if share is None else [r for r in records if share.sends(r[0], r[2])])

    def _table(self, data: bytes, quoted: bool) -> Any | None:
        """The chunk's cells as text, by Arrow's CSV reader; None where it refuses the chunk."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        try:
            return pcsv.read_csv(
                io.BytesIO(data),
                read_options=pcsv.ReadOptions(column_names=list(self.header), use_threads=False, block_size=len(data) + 1),
                # quotes only as ``_quoted_rows_pattern`` allows them, and the UTF-8 is checked above
                parse_options=pcsv.ParseOptions(
                    delimiter=self.delimiter, ignore_empty_lines=False, quote_char='"' if quoted else False
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=self._types,
                    include_columns=[name for name, _, _ in self.columns],
                    null_values=[""],
                    strings_can_be_null=True,  # an empty cell is null: its column's null count tells, for free
                    check_utf8=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None

    def _texts(self, table: Any, formed: bool) -> list[Text] | None:
        """Each column's JSON text, in the value's field order; None where a cell is not its column's type."""
        import pyarrow as pa

        texts: list[Text] = []
        for (_, kind, nullable), column in zip(self.columns, table.columns, strict=True):
            try:
                text = self._text(column.combine_chunks(), kind, nullable, formed)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a cell Arrow cannot read as the schema's type
                return None
            if text is None:
                return None
            texts.append(text)
        return texts

    def _keys(self, table: Any, texts: list[Text]) -> Any | None:
        """Each row's key as binary; None where an int key cell is empty (no key: the Python path reports it)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        assert self.key is not None
        at = self._key_at  # an int key is its JSON text (digits, no leading zero); a string key its cell
        if self.columns[at][1] == "int":
            key_column = texts[at][0]
            if key_column.null_count:
                return None
        else:  # an empty cell is the empty key
            key_column = table.column(self.key).combine_chunks()
            if key_column.null_count:
                key_column = pc.fill_null(key_column, "")
        return pc.cast(key_column, pa.binary())


def _longest(cells: Any) -> int:
    """The longest cell's length (0 when every cell is empty)."""
    import pyarrow.compute as pc

    return pc.max(pc.binary_length(cells)).as_py() or 0


def _leading_point(cells: Any) -> Any:
    """Float cells in JSON's form, or starting with their point (``.73``, ``-.5``): the latter get their 0. Only a
    cell that sorts before ``0`` can start with either, so a column whose least cell does not needs no search."""
    import pyarrow.compute as pc

    if (pc.min(cells).as_py() or "0") >= "0":
        return cells
    if pc.any(pc.starts_with(cells, ".")).as_py() is True or pc.any(pc.starts_with(cells, "-.")).as_py() is True:
        return pc.replace_substring_regex(cells, r"^(-?)\.", r"\10.")
    return cells
