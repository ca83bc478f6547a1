"""Avro schemas: derived from a msgspec Struct (``--schema``) or a Parquet file's Arrow schema, as the ecosystem expects
them (a nullable field is ``["null", T]`` with ``"default": null``; timestamps ``timestamp-millis``/``-micros``, UTC; dates
``date``; decimals ``decimal`` with their precision and scale; names valid Avro names), and the Python type a JSON value
is decoded into to fit one (``decoding_type``), so that msgspec checks each field's type before fastavro writes it.

A timestamp without a zone is taken as UTC (fastavro writes a naive datetime so; Arrow's ``timestamp[us]`` becomes
``timestamp-micros``), as Spark and Flink read ``timestamp-*`` types. A Struct's ``Decimal`` has no declared precision,
so it is written as a ``string``; an ``int`` is a ``long``, a ``float`` a ``double``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import typing
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import msgspec
from msgspec import inspect as mi

from pump.config import config_error, verbatim

Avro = Any  # a schema as JSON: a name, a list (a union), or an object
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


def avro_name(text: str, what: str) -> str:
    """``text`` if it is a valid Avro name, else one line saying whose name is not (a field's: choose --columns)."""
    if not _NAME.match(text):
        raise config_error(f"{{value_format}} avro: {verbatim(what)} {verbatim(repr(text))} is not a valid Avro name"
                           " ([A-Za-z_][A-Za-z0-9_]*): leave it out with {columns}, or give {value_schema}")  # fmt: skip
    return text


def record_name(topic: str) -> str:
    """The top record's name for a topic's values: the topic's name made a valid Avro name."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", topic)
    return name if _NAME.match(name) else "_" + name


def nullable(kind: Avro) -> dict[str, Any]:
    return {"type": ["null", kind], "default": None}


# -- from a msgspec Struct ---------------------------------------------------------------------------------------------


def from_struct(schema: type[msgspec.Struct], name: str, columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The Avro record of ``schema``'s fields (only ``columns``, in that order, when given), named ``name``."""
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    return _struct_record(info, name, columns, _Names())


class _Names:
    """Record names, each used once in a schema (Avro's rule): a nested record is named for its field, made unique."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        name, n = record_name(wanted), 1
        while name in self.used:
            n += 1
            name = f"{record_name(wanted)}_{n}"
        self.used.add(name)
        return name


def _struct_record(info: mi.StructType, name: str, columns: tuple[str, ...] | None, names: _Names) -> dict[str, Any]:
    by_name = {f.encode_name: f for f in info.fields}
    chosen = [by_name[c] for c in columns] if columns is not None else list(info.fields)
    record = {"type": "record", "name": names.take(name), "fields": []}
    for f in chosen:
        kind = _from_type(f.type, f.encode_name, names)
        optional = isinstance(kind, dict) and "default" in kind
        field = {"name": avro_name(f.encode_name, "field"), **(kind if optional else {"type": kind})}
        record["fields"].append(field)
    return record


def _from_type(t: mi.Type, name: str, names: _Names) -> Avro:
    """A msgspec type as Avro; ``T | None`` as the nullable ``{"type": ["null", T], "default": null}``."""
    if isinstance(t, mi.Metadata):
        return _from_type(t.type, name, names)
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        inner = [_from_type(m, name, names) for m in members]
        kind = inner[0] if len(inner) == 1 else inner
        return nullable(kind) if len(members) < len(t.types) else kind
    simple = _SIMPLE.get(type(t))
    if simple is not None:
        return simple
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return {"type": "array", "items": _from_type(t.item_type, name, names)}
    if isinstance(t, mi.DictType) and isinstance(t.key_type, mi.StrType):
        return {"type": "map", "values": _from_type(t.value_type, name, names)}
    if isinstance(t, (mi.StructType, mi.TypedDictType, mi.DataclassType)):
        return _struct_record(t, name, None, names)  # type: ignore[arg-type]
    if isinstance(t, mi.LiteralType) and all(isinstance(v, str) for v in t.values):
        return "string"
    raise config_error(f"{{value_format}} avro: field {verbatim(repr(name))} has a type Avro has no form for here"
                       f" ({verbatim(type(t).__name__)}): give {{value_schema}}")  # fmt: skip


_SIMPLE: dict[type, Avro] = {
    mi.IntType: "long",
    mi.FloatType: "double",
    mi.StrType: "string",
    mi.BoolType: "boolean",
    mi.BytesType: "bytes",
    mi.ByteArrayType: "bytes",
    mi.DateTimeType: {"type": "long", "logicalType": "timestamp-micros"},
    mi.DateType: {"type": "int", "logicalType": "date"},
    mi.TimeType: {"type": "long", "logicalType": "time-micros"},
    mi.DecimalType: "string",
    mi.UUIDType: {"type": "string", "logicalType": "uuid"},
    mi.AnyType: "string",
}


# -- from an Arrow schema ----------------------------------------------------------------------------------------------


def from_arrow(schema: Any, name: str) -> dict[str, Any]:
    """The Avro record of an Arrow schema's fields (a Parquet file's columns as read)."""
    names = _Names()
    return {"type": "record", "name": names.take(name), "fields": [_arrow_field(f, names) for f in schema]}


def _arrow_field(field: Any, names: _Names) -> dict[str, Any]:
    kind = _arrow_type(field.type, field.name, names)
    typed = nullable(kind) if field.nullable else {"type": kind}
    return {"name": avro_name(field.name, "column"), **typed}


def _arrow_type(t: Any, name: str, names: _Names) -> Avro:
    import pyarrow.types as types  # the schema came from pyarrow: it is imported

    if types.is_dictionary(t):
        return _arrow_type(t.value_type, name, names)
    if types.is_timestamp(t):
        return {"type": "long", "logicalType": "timestamp-millis" if t.unit in ("s", "ms") else "timestamp-micros"}
    if types.is_decimal(t):
        return {"type": "bytes", "logicalType": "decimal", "precision": t.precision, "scale": t.scale}
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        return {"type": "array", "items": _item(t.value_field, name, names)}
    if types.is_map(t):
        return {"type": "map", "values": _item(t.item_field, name, names)}
    if types.is_struct(t):
        return {
            "type": "record",
            "name": names.take(name),
            "fields": [_arrow_field(t.field(i), names) for i in range(t.num_fields)],
        }
    for test, avro in _ARROW_SIMPLE:
        if getattr(types, test)(t):
            return avro
    raise config_error(f"{{value_format}} avro: column {verbatim(repr(name))} is {verbatim(t)}, which Avro has no form"
                       " for here: leave it out with {columns}, or give {value_schema}")  # fmt: skip


def _item(field: Any, name: str, names: _Names) -> Avro:
    kind = _arrow_type(field.type, name, names)
    return ["null", kind] if field.nullable else kind


_ARROW_SIMPLE: list[tuple[str, Avro]] = [
    ("is_boolean", "boolean"),
    ("is_int8", "int"), ("is_int16", "int"), ("is_int32", "int"), ("is_uint8", "int"), ("is_uint16", "int"),
    ("is_integer", "long"),
    ("is_float16", "float"), ("is_float32", "float"), ("is_float64", "double"),
    ("is_string", "string"), ("is_large_string", "string"),
    ("is_binary", "bytes"), ("is_large_binary", "bytes"), ("is_fixed_size_binary", "bytes"),
    ("is_date", {"type": "int", "logicalType": "date"}),
    ("is_time32", {"type": "int", "logicalType": "time-millis"}),
    ("is_time64", {"type": "long", "logicalType": "time-micros"}),
    ("is_null", "null"),
]  # fmt: skip


# -- the type a value is decoded into ----------------------------------------------------------------------------------


def decoding_type(schema: Avro) -> Any:
    """The Python type whose msgspec decoding of a JSON value fits ``schema``: a TypedDict per record (a field with a
    default may be absent), 32-bit bounds on ``int``, datetimes for ``timestamp-*``, Decimals for ``decimal``. A
    union msgspec cannot decode into is left to fastavro to check (``Any``)."""
    return _python(schema, {})


_PRIMITIVE: dict[str, Any] = {"null": None, "boolean": bool, "int": _INT32, "long": _INT64, "float": float,
                              "double": float, "bytes": bytes, "string": str}  # fmt: skip
#: A logical type's value: its Python type, or the number Avro holds (epoch milliseconds for ``timestamp-millis``...)
_LOGICAL: dict[str, Any] = {"timestamp-millis": dt.datetime | int, "timestamp-micros": dt.datetime | int,
                            "local-timestamp-millis": dt.datetime | int, "local-timestamp-micros": dt.datetime | int,
                            "date": dt.date | int, "time-millis": dt.time | int, "time-micros": dt.time | int,
                            "decimal": decimal.Decimal, "uuid": str}  # fmt: skip


def _python(t: Avro, named: dict[str, Any]) -> Any:
    if isinstance(t, str):
        return _PRIMITIVE[t] if t in _PRIMITIVE else named.get(t, Any)
    if isinstance(t, list):
        return _union([_python(m, named) for m in t])
    kind, logical = t["type"], t.get("logicalType")
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    if kind == "record":
        fields = {}
        named[t["name"]] = Any  # a recursive reference decodes as anything; fastavro checks it
        for f in t["fields"]:
            python = _python(f["type"], named)
            fields[f["name"]] = NotRequired[python] if "default" in f else python
        typed = TypedDict(t["name"], fields)  # type: ignore[misc, operator]
        named[t["name"]] = typed
        return typed
    if kind == "enum":
        return Literal[tuple(t["symbols"])]
    if kind == "array":
        return list[_python(t["items"], named)]  # type: ignore[misc]
    if kind == "map":
        return dict[str, _python(t["values"], named)]  # type: ignore[misc]
    if kind == "fixed":
        return bytes
    return _python(kind, named)


def _union(members: list[Any]) -> Any:
    if Any in members:
        return Any
    union = typing.Union[tuple(members)]  # noqa: UP007 - built from a list (a member may be a union: flattened)
    try:
        msgspec.json.Decoder(union)
    except TypeError:  # e.g. two record types, or str and bytes: msgspec cannot tell them apart
        return Any
    return union
