"""Avro values written a column at a time, in Arrow's kernels: a Parquet batch's rows become Avro records without a
Python object per row or per field, on a decode thread (the kernels release the GIL).

Avro's binary encoding of a record is its fields' encodings one after another: a ``long``/``int`` as a zigzag varint, a
``double``/``float`` as its 8/4 bytes little-endian, a ``boolean`` as one byte, a ``string``/``bytes`` as its length
(a varint) then its bytes, a union as its branch's index (a varint: ``["null", T]`` is ``00`` for null, ``02`` then
``T`` otherwise). So each field becomes a few binary columns (pieces), a piece null where a row has none of it, and one
``binary_join_element_wise`` over every field's pieces, skipping nulls, makes each row's record after the wire prefix.
A varint is made of up to ten one-byte pieces, byte k present where the value needs it.

What it writes: records whose fields are primitives, ``timestamp-*`` (from Arrow timestamps in s, ms, us), ``date``,
``time-*``, and ``["null", T]`` of those: the schemas pump derives from a Parquet file's flat columns. Anything else
(decimals, lists, structs, maps, nanosecond timestamps, strings that are not UTF-8, a column whose type changed) leaves
the batch to fastavro, value by value (``AvroValues``): ``encode`` answers None. The bytes are fastavro's, byte for byte
(``tests/test_values.py`` holds them side by side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_PRIMITIVE = {"long", "int", "double", "float", "boolean", "string", "bytes"}
_LOGICAL = {"timestamp-millis": "ms", "timestamp-micros": "us", "date": "date", "time-millis": "ms", "time-micros": "us"}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: str  # long, int, double, float, boolean, string, bytes
    logical: str | None  # timestamp-millis ... as in _LOGICAL
    nullable: bool


def _fields(schema: Any) -> list[_Field] | None:
    """The record's fields as this module writes them; None where one is not such a field."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    out = []
    for f in schema["fields"]:
        kind, nullable = f["type"], False
        if isinstance(kind, list):
            if len(kind) != 2 or kind[0] != "null":
                return None
            kind, nullable = kind[1], True
        logical = None
        if isinstance(kind, dict):
            logical = kind.get("logicalType")
            if logical not in _LOGICAL:
                return None
            kind = kind["type"]
        if kind not in _PRIMITIVE:
            return None
        out.append(_Field(f["name"], kind, logical, nullable))
    return out


class AvroColumns:
    """A record schema's writer for Arrow record batches; ``prefix``: the wire format's 5 bytes."""

    def __init__(self, fields: list[_Field], prefix: bytes) -> None:
        self._fields = fields
        self._prefix = prefix

    @classmethod
    def of(cls, schema: Any, prefix: bytes) -> AvroColumns | None:
        fields = _fields(schema)
        return cls(fields, prefix) if fields is not None else None

    def encode(self, batch: Any) -> Any | None:
        """Every row's value (prefix included) as a binary array; None where a column is not one this can write."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces: list[Any] = [pa.scalar(self._prefix, pa.binary())]
        for f in self._fields:
            if f.name not in batch.schema.names:
                return None
            made = _field(f, batch.column(f.name), pa, pc)
            if made is None:
                return None
            pieces.extend(made)
        if batch.num_rows == 0:
            return pa.array([], pa.binary())
        return pc.binary_join_element_wise(*pieces, b"", null_handling="skip")


def _field(f: _Field, column: Any, pa: Any, pc: Any) -> list[Any] | None:
    """A field's pieces: the union's index (where nullable), then the value's pieces, null where the row is null."""
    if column.null_count and not f.nullable:
        return None
    value = _value(f, column, pa, pc)
    if value is None:
        return None
    if not f.nullable:
        return value
    if not column.null_count:
        return [pa.scalar(b"\x02", pa.binary()), *value]
    valid = pc.is_valid(column)
    index = pc.if_else(valid, pa.scalar(b"\x02", pa.binary()), pa.scalar(b"\x00", pa.binary()))
    none = pa.scalar(None, pa.binary())
    return [index, *(pc.if_else(valid, piece, none) for piece in value)]


def _value(f: _Field, column: Any, pa: Any, pc: Any) -> list[Any] | None:
    t = column.type
    types = pa.types
    if f.logical is not None:
        number = _logical(f, column, pa, pc)
        return None if number is None else _varint(number, pa, pc)
    if f.kind in ("long", "int"):
        if not types.is_integer(t) or (types.is_uint64(t) and (pc.max(column).as_py() or 0) >= 2**63):
            return None
        return _varint(pc.cast(column, pa.int64()), pa, pc)
    if f.kind in ("double", "float"):
        if not types.is_floating(t):
            return None
        width = 8 if f.kind == "double" else 4
        exact = pc.cast(column, pa.float64() if width == 8 else pa.float32())
        return [_bytes_of(exact, width, pa)]
    if f.kind == "boolean":
        if not types.is_boolean(t):
            return None
        return [pc.if_else(column, pa.scalar(b"\x01", pa.binary()), pa.scalar(b"\x00", pa.binary()))]
    if f.kind == "string" and (types.is_string(t) or types.is_large_string(t)):
        try:
            column.validate(full=True)  # UTF-8, as Avro's strings must be (Parquet's are not checked as they are read)
        except pa.ArrowInvalid:
            return None
        return _counted(pc.cast(column, pa.binary()), pa, pc)
    if f.kind == "bytes" and (types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t)):
        return _counted(pc.cast(column, pa.binary()), pa, pc)
    return None


def _logical(f: _Field, column: Any, pa: Any, pc: Any) -> Any | None:
    """The number a logical type holds, as int64; None where the column's type does not give it exactly."""
    t, unit = column.type, _LOGICAL[f.logical or ""]
    types = pa.types
    if f.logical and f.logical.startswith("timestamp"):
        if not types.is_timestamp(t) or t.unit == "ns" or (unit == "ms" and t.unit == "us"):
            return None
        return pc.cast(pc.cast(column, pa.timestamp(unit, t.tz)), pa.int64())
    if unit == "date":
        if not types.is_date(t):
            return None
        return pc.cast(pc.cast(column, pa.date32()), pa.int32()).cast(pa.int64())
    if not types.is_time(t) or t.unit == "ns" or (unit == "ms" and t.unit == "us"):
        return None
    wanted = pa.time32("ms") if unit == "ms" else pa.time64("us")
    return pc.cast(pc.cast(column, wanted), pa.int32() if unit == "ms" else pa.int64()).cast(pa.int64())


def _counted(column: Any, pa: Any, pc: Any) -> list[Any]:
    """``bytes``/``string``: the length as a varint, then the bytes."""
    return [*_varint(pc.cast(pc.binary_length(column), pa.int64()), pa, pc), column]


def _bytes_of(column: Any, width: int, pa: Any) -> Any:
    """A fixed-width number column's values as their little-endian bytes, each a binary value (no copy until joined)."""
    fixed = pa.Array.from_buffers(pa.binary(width), len(column), [None, column.buffers()[1]], offset=column.offset)
    return fixed.cast(pa.binary())


def _varint(values: Any, pa: Any, pc: Any) -> list[Any]:
    """int64 values as Avro's zigzag varints: one piece a byte, byte k null where the value needs fewer than k + 1."""
    doubled = pc.shift_left(values, 1)  # wraps, as the zigzag's shift does
    zig = pc.if_else(pc.less(values, 0), pc.bit_wise_not(doubled), doubled)  # (v << 1) ^ (v >> 63)
    zig = pc.cast(zig, pa.uint64(), safe=False)  # the same bits, unsigned: shifts right bring in zeros
    top = pc.max(zig).as_py() or 0
    count = max(1, (top.bit_length() + 6) // 7)
    pieces = []
    none = pa.scalar(None, pa.binary())
    seven, low, high, zero = (pa.scalar(n, pa.uint64()) for n in (7, 0x7F, 0x80, 0))
    rest = zig
    for k in range(count):
        later = pc.shift_right(rest, seven)
        more = pc.cast(pc.not_equal(later, zero), pa.uint64())
        byte = pc.cast(pc.bit_wise_or(pc.bit_wise_and(rest, low), pc.multiply(more, high)), pa.uint8())
        piece = _bytes_of(byte, 1, pa)
        pieces.append(piece if k == 0 else pc.if_else(pc.not_equal(rest, zero), piece, none))
        rest = later
    return pieces
