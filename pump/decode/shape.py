"""``--columns`` and ``--datetime`` for CSV and JSON lines: each record's value written again, with only the fields
named, in that order, and a schema's datetime fields in the form asked for.

Parquet does both as it reads (only the columns asked for are read; ``arrow.JsonLines`` writes its timestamps),
so its chunks pass untouched. For the text formats this is a step of its own after decoding: the value is
decoded once more (into the schema's type when datetimes are to be rewritten, so that a field is a datetime
because the schema says so, never because its text looks like one), then encoded. A JSON line lacking one
of the columns is invalid with reason ``schema``, and the rest go on; a CSV header lacking one fails at its
first line, before any of its rows (``csvrows``). Without either option, records go on as decoded.

Datetime forms, as for Parquet: ``iso`` (msgspec's, ``2025-11-01T00:05:00``), ``sql`` (``2025-11-01 00:05:00``,
fractions when there are some; an aware time in UTC, without its zone), ``epoch-ms`` and ``epoch-us`` (a time
without a zone taken as UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec import inspect as mi
from msgspec.structs import fields as struct_fields

from pump.config import config_error, verbatim
from pump.decode.lines import LineIndex
from pump.decode.parsed import Parsed
from pump.errors import InputError
from pump.input import Chunk
from pump.records import Invalid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT = {"epoch-ms": timedelta(milliseconds=1), "epoch-us": timedelta(microseconds=1)}


def _when(value: datetime, mode: str) -> str | int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if mode == "sql":
        return aware.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return (aware - _EPOCH) // _UNIT[mode]


class Shape:
    """``columns``: the fields to send, in order (None: all); ``datetime``: how a ``schema``'s datetimes are written."""

    def __init__(self, columns: tuple[str, ...] | None, datetime: str, schema: type[msgspec.Struct] | None) -> None:
        self.columns = columns
        infos = struct_fields(schema) if schema is not None else ()
        if schema is not None and columns is not None:
            names = {f.encode_name for f in infos}
            missing = [c for c in columns if c not in names]
            if missing:
                said = f"schema {schema.__name__} has no field {', '.join(map(repr, missing))}"
                raise config_error(f"{{columns}}: {verbatim(said)}")
        self._schema = schema
        self._headers: set[tuple[str, ...]] = set()  # CSV headers already checked
        times = {f.name for f in infos if _is_datetime(f.type)}
        self.datetime = datetime if times else "iso"
        self._fields = [(f.name, f.encode_name, f.name in times) for f in infos]
        decode_as: Any = schema if self.datetime != "iso" else dict[str, Any]
        self._decode = msgspec.json.Decoder(decode_as).decode
        self._encode = msgspec.json.Encoder().encode

    @property
    def needed(self) -> bool:
        return self.columns is not None or self.datetime != "iso"

    def apply(self, parsed: Parsed, chunk: Chunk) -> None:
        """Every record's value written again; one that lacks a column leaves the records for ``parsed.invalid``."""
        if chunk.rows:  # Parquet: done as it was read
            return
        if chunk.header is not None and self.columns is not None and chunk.header not in self._headers:
            self._check(chunk)
        out, bad = [], []
        offsets = LineIndex(chunk)
        for key, value, line in parsed.records:
            fields = self._values(value)
            if self.columns is not None:
                missing = [c for c in self.columns if c not in fields]
                if missing:
                    said = f"no field {', '.join(map(repr, missing))} (--columns)"
                    bad.append(Invalid(chunk.path, line, offsets.of(line), "schema", said))
                    continue
                fields = {c: fields[c] for c in self.columns}
            out.append((key, self._encode(fields), line))
        parsed.records = out
        if bad:
            parsed.invalid = sorted([*parsed.invalid, *bad], key=lambda i: i.line)

    def _check(self, chunk: Chunk) -> None:
        """A CSV header without a column (no schema: a schema's fields were checked when made) fails its file."""
        assert chunk.header is not None and self.columns is not None
        if self._schema is None:
            missing = [c for c in self.columns if c not in chunk.header]
            if missing:
                raise InputError(chunk.path, f"--columns: the CSV header has no column {', '.join(map(repr, missing))}", line=1)
        self._headers.add(chunk.header)

    def __reduce__(self) -> tuple[type[Shape], tuple[Any, ...]]:  # to decode processes: made again there
        return Shape, (self.columns, self.datetime, self._schema)

    def _values(self, value: bytes) -> dict[str, Any]:
        decoded = self._decode(value)
        if self.datetime == "iso":
            return decoded  # type: ignore[no-any-return]
        mode = self.datetime
        out = {}
        for name, encoded, is_time in self._fields:
            v = getattr(decoded, name)
            out[encoded] = _when(v, mode) if is_time and isinstance(v, datetime) else v
        return out


def _is_datetime(t: Any) -> bool:
    info = mi.type_info(t)
    if isinstance(info, mi.UnionType):
        return any(isinstance(m, mi.DateTimeType) for m in info.types)
    return isinstance(info, mi.DateTimeType)
