"""CSV rows -> records in Apache Arrow's C++ (pyarrow, when installed): the fast path of ``csvrows``.

A chunk of plain rows (no quote, no CR, no blank line: one row a line, so row ``i`` is line
``first_line + i``) is parsed and typed by Arrow's CSV reader, turned into JSON lines by
``arrow.JsonLines`` and cut into records. Arrow releases the GIL for all of that, so such a
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
never in value (``1.234567890125e11`` for ``123456789012.5``).
"""

from __future__ import annotations

import io
from typing import Any

import msgspec
from msgspec import inspect as mi

from pump.decode.parsed import Parsed, Share
from pump.input import Chunk

_DATETIME = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?$"


def available() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def plain(data: bytes) -> bool:
    """Rows a line each, no blank line: Arrow's row ``i`` is the chunk's line ``first_line + i``."""
    return b'"' not in data and b"\r" not in data and b"\n\n" not in data and not data.startswith(b"\n")


def _column(t: mi.Type) -> tuple[str, bool] | None:
    """(kind, nullable) of a field Arrow can read as the Python path would, else None."""
    nullable = False
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        if len(members) != 1:
            return None
        nullable, t = len(members) < len(t.types), members[0]
    if isinstance(t, mi.IntType | mi.FloatType):
        bounded = (t.gt, t.ge, t.lt, t.le, t.multiple_of) != (None,) * 5
        return None if bounded else ("int" if isinstance(t, mi.IntType) else "float", nullable)
    if isinstance(t, mi.StrType):
        return None if (t.min_length, t.max_length, t.pattern) != (None, None, None) else ("str", nullable)
    if isinstance(t, mi.DateTimeType) and t.tz is not True:
        return "datetime", nullable
    return None


class ArrowRows:
    """How rows under one header become records in Arrow; ``of`` says whether they can."""

    def __init__(self, header: tuple[str, ...], columns: list[tuple[str, str, bool]], key: str | None) -> None:
        import pyarrow as pa

        from pump.input.arrow import JsonLines

        self.header = header
        self.columns = columns  # (name, kind, nullable) in the order of the JSON value's fields
        self.key = key  # the column whose text is the key
        types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "datetime": pa.string()}
        self._types = {name: types[kind] for name, kind, _ in columns}
        out = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "datetime": pa.timestamp("us")}
        self._to_json = JsonLines(pa.schema([(name, out[kind]) for name, kind, _ in columns]))

    @classmethod
    def of(cls, header: tuple[str, ...], schema: type[msgspec.Struct] | None, key_field: str | None) -> ArrowRows | None:
        if not available() or len(set(header)) != len(header):
            return None
        if schema is None:
            key = key_field if key_field in header else None
            return cls(header, [(name, "str", False) for name in header], key)
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
            kind = _column(f.type)
            if kind is None:
                return None
            columns.append((f.encode_name, *kind))
            if key_field in (f.name, f.encode_name):
                if kind[0] not in ("int", "str"):
                    return None
                key = f.encode_name
        return cls(header, columns, key)

    def decode(self, chunk: Chunk, share: Share | None) -> Parsed | None:
        """The chunk's records, or None where the Python path must decode it."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        data = chunk.data
        if not data or not plain(data):
            return None
        if not data.isascii():
            try:
                data.decode()
            except UnicodeDecodeError:
                return None
        try:
            table = pcsv.read_csv(
                io.BytesIO(data),
                read_options=pcsv.ReadOptions(column_names=list(self.header), use_threads=False, block_size=len(data) + 1),
                parse_options=pcsv.ParseOptions(ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(
                    column_types=self._types,
                    include_columns=[name for name, _, _ in self.columns],
                    null_values=[""],
                    strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        arrays: list[Any] = []
        for (_, kind, nullable), column in zip(self.columns, table.columns, strict=True):
            array = column.combine_chunks()
            if kind == "datetime":
                if nullable:
                    array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
                if pc.all(pc.match_substring_regex(array, _DATETIME)).as_py() is False:
                    return None
                array = pc.cast(array, pa.timestamp("us"))
            elif not nullable and array.null_count:
                return None
            arrays.append(array)
        keys: list[bytes | None] | None = None
        if self.key is not None:
            key_column = table.column(self.key)
            if key_column.null_count:
                return None
            keys = pc.cast(pc.cast(key_column, pa.string()), pa.binary()).to_pylist()
        values = self._to_json.values(pa.RecordBatch.from_arrays(arrays, schema=self._to_json.schema))
        first = chunk.first_line
        out = Parsed()
        if keys is None:
            records = [(None, value, line) for line, value in enumerate(values, first)]
        else:
            records = list(zip(keys, values, range(first, first + table.num_rows), strict=True))
        out.records = records if share is None else [r for r in records if share.sends(r[0], r[2])]
        return out
