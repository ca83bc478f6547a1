"""``--value-format avro|json-schema``: each record's JSON value written in Confluent's wire format, a magic byte 0, the
schema's id in 4 bytes (big-endian), then the body: Avro's binary encoding (fastavro), or the JSON itself.

A step of its own after decoding and shaping (``stage._grouped``), for every format: the value pump would send as JSON
is decoded once more, into the Python type the schema asks for (``avro.decoding_type``: msgspec checks every field's
type, range and presence), then written. A value that does not fit is invalid with reason ``schema`` and its file:line,
and the rest go on. Made in the main process and again in each decode process (``__reduce__``: the schema's text and id).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any, Protocol

import msgspec

from pump.decode.avrocolumns import AvroColumns
from pump.decode.lines import LineIndex
from pump.decode.parsed import Parsed
from pump.input import Chunk
from pump.records import Invalid, Record


class ValueEncoder(Protocol):
    """One value's JSON -> its bytes on the wire; raises ``ValueError`` (msgspec's errors are some) where it does not
    fit the schema. ``what``: the format's name, for that message."""

    what: str
    schema_id: int
    costly: bool  # worth writing in processes of its own (``encoding``)

    def encode(self, value: bytes) -> bytes: ...


_EPOCH, _EPOCH_UTC = datetime(1970, 1, 1), datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"timestamp-millis": timedelta(milliseconds=1), "timestamp-micros": timedelta(microseconds=1),
          "local-timestamp-millis": timedelta(milliseconds=1), "local-timestamp-micros": timedelta(microseconds=1)}  # fmt: skip


def timestamp_fields(schema: Any) -> list[tuple[str, timedelta]]:
    """A record schema's top-level timestamp fields (nullable or not), with their unit."""
    found = []
    for f in schema.get("fields", []) if isinstance(schema, dict) else []:
        kinds = f["type"] if isinstance(f["type"], list) else [f["type"]]
        for kind in kinds:
            if isinstance(kind, dict) and kind.get("logicalType") in _UNITS and kind.get("type") == "long":
                found.append((f["name"], _UNITS[kind["logicalType"]]))
    return found


def wire_prefix(schema_id: int) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big")


class AvroValues:
    """Values as Avro, in the wire format (``schema``: the Avro schema's JSON text, as registered)."""

    what = "Avro"
    costly = True  # fastavro: about 8 us a rides record (20 with its two timestamps left to it)

    def __init__(self, schema: str, schema_id: int) -> None:
        import fastavro  # an extra (pump[registry]): imported where it is used

        from pump.decode.avro import decoding_type

        self.schema, self.schema_id = schema, schema_id
        parsed = msgspec.json.decode(schema)
        self._parsed = fastavro.parse_schema(parsed)
        self._write = fastavro.schemaless_writer
        self._decode = msgspec.json.Decoder(decoding_type(parsed)).decode
        self._prefix = wire_prefix(schema_id)
        self._times = timestamp_fields(parsed)
        #: the same values written a column at a time from Arrow batches (Parquet's rows), where the schema allows
        self.columns = AvroColumns.of(parsed, self._prefix)

    def encode(self, value: bytes) -> bytes:
        out = BytesIO(self._prefix)
        out.seek(5)
        record = self._decode(value)
        for name, unit in self._times:  # the number fastavro would work out, 2.5x slower (timegm for a naive time)
            when = record.get(name)
            if type(when) is datetime:
                record[name] = (when - (_EPOCH if when.tzinfo is None else _EPOCH_UTC)) // unit
        self._write(out, self._parsed, record)
        return out.getvalue()

    def __reduce__(self) -> tuple[type[AvroValues], tuple[str, int]]:
        return AvroValues, (self.schema, self.schema_id)


class JsonSchemaValues:
    """Values as JSON Schema's wire format: the JSON as it is, after the prefix. ``check``: validate each value against
    the schema (one given or fetched; a schema pump derived is one its values fit by construction)."""

    what = "JSON Schema"

    def __init__(self, schema: str, schema_id: int, check: bool) -> None:
        self.schema, self.schema_id, self.check = schema, schema_id, check
        self.costly = check  # jsonschema's validation, value by value
        self._prefix = wire_prefix(schema_id)
        self._validate: Any = None
        if check:
            import jsonschema  # an extra (pump[registry]): imported where it is used

            document = msgspec.json.decode(schema)
            self._validate = jsonschema.validators.validator_for(document)(document).iter_errors
            self._decode = msgspec.json.decode

    def encode(self, value: bytes) -> bytes:
        if self._validate is not None:
            for error in self._validate(self._decode(value)):
                where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
                raise ValueError(f"{error.message}" + (f" - at `${where}`" if where else ""))
        return self._prefix + value

    def __reduce__(self) -> tuple[type[JsonSchemaValues], tuple[str, int, bool]]:
        return JsonSchemaValues, (self.schema, self.schema_id, self.check)


def unfit(encoder: ValueEncoder, exc: BaseException) -> str:
    """Why a value does not fit, in one line."""
    said = " ".join(str(exc).split()) or type(exc).__name__
    return f"does not fit the {encoder.what} schema: {said}"


def written(encoder: ValueEncoder, records: list[Record]) -> tuple[list[Record], list[tuple[int, str]]]:
    """The records with their values in the wire format, and (line, why) of each whose value does not fit."""
    encode = encoder.encode
    out: list[Record] = []
    bad: list[tuple[int, str]] = []
    for key, value, line in records:
        try:
            out.append((key, encode(value), line))
        except (ValueError, TypeError, OverflowError) as exc:  # msgspec.ValidationError is a ValueError
            bad.append((line, unfit(encoder, exc)))
    return out, bad


def encode_values(encoder: ValueEncoder, parsed: Parsed, chunk: Chunk) -> None:
    """Every record's value in the wire format; one that does not fit leaves the records for ``parsed.invalid``."""
    parsed.records, bad = written(encoder, parsed.records)
    if bad:
        offsets = LineIndex(chunk)
        unfitting = [Invalid(chunk.path, line, offsets.of(line), "schema", why) for line, why in bad]
        parsed.invalid = sorted([*parsed.invalid, *unfitting], key=lambda i: i.line)
