"""JSON Schema documents derived from a msgspec Struct (``--schema``: msgspec's own ``json.schema``) or from a Parquet
file's Arrow schema, for ``--value-format json-schema``. Values pump writes from such an input fit them by construction
(msgspec validated the record, or Arrow typed the column), so they are not validated again record by record."""

from __future__ import annotations

from typing import Any

import msgspec

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def from_struct(schema: type[msgspec.Struct], columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``schema`` as a JSON Schema object (only ``columns``, in that order, when given); nested types in ``$defs``."""
    made = msgspec.json.schema(schema)
    defs = made.get("$defs", {})
    top_name = made["$ref"].rsplit("/", 1)[-1]
    top = dict(defs.pop(top_name))
    if columns is not None:
        top["properties"] = {c: top["properties"][c] for c in columns}
        top["required"] = [c for c in top.get("required", []) if c in columns]
    return {"$schema": DIALECT, **top, **({"$defs": defs} if defs else {})}


def from_arrow(schema: Any, title: str) -> dict[str, Any]:
    """An object with a property per Arrow field, as pump writes a Parquet row's JSON (every key present)."""
    return {"$schema": DIALECT, "title": title, **_object(list(schema))}


def _object(fields: list[Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {f.name: _field(f) for f in fields}, "required": [f.name for f in fields]}


def _field(field: Any) -> dict[str, Any]:
    kind = _type(field.type)
    return {"anyOf": [kind, {"type": "null"}]} if field.nullable else kind


def _type(t: Any) -> dict[str, Any]:
    import pyarrow.types as types  # the schema came from pyarrow: it is imported

    if types.is_dictionary(t):
        return _type(t.value_type)
    if types.is_boolean(t):
        return {"type": "boolean"}
    if types.is_integer(t):
        return {"type": "integer"}
    if types.is_floating(t) or types.is_decimal(t):
        return {"type": "number"}
    if types.is_timestamp(t):
        return {"type": "string", "format": "date-time"}
    if types.is_date(t):
        return {"type": "string", "format": "date"}
    if types.is_time(t):
        return {"type": "string", "format": "time"}
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        return {"type": "array", "items": _field(t.value_field)}
    if types.is_map(t):
        return {"type": "object", "additionalProperties": _field(t.item_field)}
    if types.is_struct(t):
        return _object([t.field(i) for i in range(t.num_fields)])
    if types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t):
        return {"type": "string", "contentEncoding": "base64"}
    if types.is_null(t):
        return {"type": "null"}
    return {"type": "string"}
