"""Parquet batches whose every row the schema is known to accept, by the columns' types: no decoding of their lines.

A Parquet file's rows become JSON lines (``arrowjson.JsonLines``), which the JSON-lines path would decode one
by one against the schema (msgspec: about 1.3 us a row for the rides) to learn that each is valid and to read its
key (``parquet.ParquetRows``). Where the columns' Arrow types already prove it, that is work without an answer to
find: ``Vouch`` looks at a batch's types (once per schema) and at what can still differ row by row (nulls, NaN,
timestamps outside years 1-9999), and gives the rows' keys, or None where the decoder must look at each line as
before. It proves only what msgspec would accept of the JSON that ``arrowjson.JsonLines`` writes:

- an ``int`` field from an integer column; a ``float`` field from an integer or floating one (NaN and infinities are
  written as ``null``, so they count as nulls); a ``str`` field from a string column; a ``datetime`` field (naive or
  not, unless the schema requires a zone) from a timestamp column written as ``iso`` or ``sql`` text, a timestamp
  with a zone only under a field that does not require naive times;
- a field the schema can do without (a default) may be missing, and may be null where its type admits None;
- the key field's column is an integer or a string one without nulls in the batch, its keys what the JSON-lines
  path would make of the values (decimal digits; the string's UTF-8).

Anything else (another type, a constraint, a tag, a column ``forbid_unknown_fields`` refuses, ``--datetime epoch-ms``...) is not
vouched for, and goes through the JSON-lines decoder as before, which reports each bad row with its reason.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from msgspec import inspect as mi

from pump.decode.arrowcsv import field_kind

_YEAR_1 = -62135596800  # 0001-01-01T00:00:00Z, in seconds since the epoch
_YEAR_10000 = 253402300800  # 10000-01-01T00:00:00Z: msgspec reads years 1-9999
_PER_SECOND = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


class Vouch:
    """Built once per run; called with each Parquet batch (after ``--columns``) on the reading thread."""

    def __init__(self, schema: type[msgspec.Struct] | None, key_field: str | None, datetime: str) -> None:
        self._plans: dict[Any, list[tuple[str, bool]] | None] = {}
        self._fields: list[tuple[str, str, bool, Any, bool]] | None = []  # (name, kind, nullable, tz, required)
        self._forbid_unknown = False
        self._datetime = datetime
        self._key = key_field
        if schema is not None:
            info = mi.type_info(schema)
            assert isinstance(info, mi.StructType)
            if info.tag is not None or info.array_like:
                self._fields = None
                return
            self._forbid_unknown = info.forbid_unknown_fields
            for f in info.fields:
                kind = field_kind(f.type)
                if kind is None:
                    self._fields = None
                    return
                self._fields.append((f.encode_name, *kind, f.required))
                if key_field in (f.name, f.encode_name):
                    if kind[0] not in ("int", "str"):  # a float's key is its repr: 5.0 for an int column's 5
                        self._fields = None
                        return
                    self._key = f.encode_name

    def _plan(self, schema: Any) -> list[tuple[str, bool]] | None:
        """The columns to look at in each batch of this Arrow schema, (name, nullable); None: never vouched."""
        import pyarrow as pa

        if self._fields is None:
            return None
        names = set(schema.names)
        if len(names) != len(schema.names):  # a name twice: which one a JSON reader keeps is its own choice
            return None
        if self._forbid_unknown and not names <= {name for name, *_ in self._fields}:
            return None
        if self._key is not None and (self._key not in names or not _keyable(schema.field(self._key).type)):
            return None
        plan = []
        for name, kind, nullable, tz, required in self._fields:
            if name not in names:
                if required:
                    return None
                continue
            t = schema.field(name).type
            if kind == "int":
                fits = pa.types.is_integer(t)
            elif kind == "float":
                fits = pa.types.is_integer(t) or pa.types.is_floating(t)
            elif kind == "str":
                fits = pa.types.is_string(t) or pa.types.is_large_string(t)
            else:  # datetime: as text, and only with a zone where the field allows one
                fits = pa.types.is_timestamp(t) and self._datetime in ("iso", "sql")
                fits = fits and not (tz is False and t.tz is not None and self._datetime == "iso")
            if not fits:
                return None
            plan.append((name, nullable))
        return plan

    def __call__(self, batch: Any) -> list[bytes | None] | None:
        """The batch's keys (None each without a key field) if every row is known valid, else None."""
        if not self._vouched(batch):
            return None
        if self._key is None:
            return [None] * batch.num_rows
        keys = self._keys(batch)
        return None if keys is None else keys.to_pylist()

    def key_array(self, batch: Any) -> tuple[bool, Any]:
        """Whether every row is known valid and has its key (or there is no key field), and the keys as an Arrow
        binary array (None without a key field)."""
        if not self._vouched(batch):
            return False, None
        if self._key is None:
            return True, None
        keys = self._keys(batch)
        return keys is not None, keys

    def _vouched(self, batch: Any) -> bool:
        import pyarrow as pa
        import pyarrow.compute as pc

        schema = batch.schema
        if schema not in self._plans:
            self._plans[schema] = self._plan(schema)
        plan = self._plans[schema]
        if plan is None:
            return False
        for name, nullable in plan:
            column = batch.column(name)
            kind = column.type
            if pa.types.is_timestamp(kind) and column.null_count < len(column):
                per_second = _PER_SECOND[kind.unit]
                low, high = (v.cast(pa.int64()).as_py() for v in pc.min_max(column).values())
                if low < _YEAR_1 * per_second or high >= _YEAR_10000 * per_second:
                    return False
            if nullable:
                continue
            if column.null_count:
                return False
            if pa.types.is_floating(kind) and not math.isfinite(pc.sum(column).as_py() or 0.0):
                return False  # a NaN or an infinity, written as null (or a sum past the largest double: not vouched)
        return True

    def _keys(self, batch: Any) -> Any:
        """The key column as the keys the JSON-lines path makes (binary), or None if a row has none."""
        import pyarrow as pa
        import pyarrow.compute as pc

        assert self._key is not None
        keys = batch.column(self._key)
        if keys.null_count:
            return None
        if pa.types.is_integer(keys.type):
            keys = pc.cast(keys, pa.string())  # decimal digits, as the JSON-lines path makes an int's key
        return pc.cast(keys, pa.binary())


def _keyable(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t))
