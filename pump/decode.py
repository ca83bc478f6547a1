"""Lines -> records: ``(key, value, line)`` tuples ready to send, or ``Invalid`` outcomes.

Decoders are built once per run (and a CSV plan once per distinct header) and
reused for every line, as msgspec's performance notes advise.

- A JSON line is validated (against the schema when there is one, else as a
  JSON object) and sent as its original bytes.
- A CSV row becomes a JSON object encoded by msgspec, typed by the schema when
  there is one. Fast path: a header equal to the schema's fields converts the
  row positionally (an ``array_like`` twin of the schema); values msgspec's
  lax parsing refuses but CSV writers produce (``.73``, ``1.``, empty optional
  cells) get one retry through Python's own ``float``/``int``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import msgspec
from msgspec import inspect as mi
from msgspec.structs import astuple, fields

from pump.errors import InputError, UsageError
from pump.source import Chunk

Reason = Literal["json", "not_object", "schema", "key", "csv", "encoding"]
REASONS: tuple[Reason, ...] = ("json", "not_object", "schema", "key", "csv", "encoding")

Record = tuple[bytes | None, bytes, int]  # key, value, line number


@dataclass(slots=True)
class Invalid:
    """A line that is not a record, and why. ``reason`` is one of ``REASONS``."""

    path: str
    line: int
    offset: int
    reason: Reason
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(slots=True)
class Decoded:
    chunk: Chunk
    records: list[Record] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    blank: int = 0
    keyed: int = 0  # records decoded elsewhere and handed on grouped, not in ``records``

    @property
    def record_count(self) -> int:
        return len(self.records) + self.keyed


def key_bytes(value: Any) -> bytes | None:
    """The message key for a field value: UTF-8 text, integers in decimal. None/empty: no key."""
    kind = type(value)
    if kind is str:
        return value.encode() if value else None
    if kind is int:
        return str(value).encode()
    if kind is bool:
        return b"true" if value else b"false"
    if kind is float:
        return repr(value).encode()
    if value is None:
        return None
    return str(value).encode()


class LineIndex:
    """Byte offsets and raw text of a chunk's physical lines, computed only when an error needs one."""

    __slots__ = ("_chunk", "_starts")

    def __init__(self, chunk: Chunk) -> None:
        self._chunk = chunk
        self._starts: list[int] | None = None

    def _index(self, line: int) -> tuple[list[int], int]:
        if self._starts is None:
            lengths = (len(x) + 1 for x in self._chunk.data.split(b"\n"))
            self._starts = [0, *accumulate(lengths)]
        return self._starts, min(max(line - self._chunk.first_line, 0), len(self._starts) - 1)

    def of(self, line: int) -> int:
        """Byte offset (in the uncompressed file) where ``line`` starts."""
        starts, i = self._index(line)
        return self._chunk.offset + starts[i]

    def raw(self, line: int) -> bytes:
        """The physical line, without its line ending."""
        starts, i = self._index(line)
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(self._chunk.data)
        return self._chunk.data[starts[i] : end].removesuffix(b"\r")


def _field_attr(schema: type[msgspec.Struct], key_field: str) -> str:
    for info in fields(schema):
        if key_field in (info.name, info.encode_name):
            return info.name
    raise UsageError(f"--key-field {key_field!r} is not a field of schema {schema.__name__}")


class JsonLinesDecoder:
    def __init__(self, schema: type[msgspec.Struct] | None, key_field: str | None) -> None:
        self._key_attr: str | None = None
        if schema is not None:
            self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(schema)
            self._key_attr = _field_attr(schema, key_field) if key_field else None
        elif key_field is not None:
            key_only = msgspec.defstruct("KeyOnly", [("k", object, None)], rename={"k": key_field})
            self._decoder = msgspec.json.Decoder(key_only)
            self._key_attr = "k"
        else:
            self._decoder = msgspec.json.Decoder(msgspec.defstruct("AnyObject", []))
        self._key_field = key_field

    def decode(self, chunk: Chunk) -> Decoded:
        out = Decoded(chunk)
        records = out.records
        decode = self._decoder.decode
        key_attr = self._key_attr
        offsets = LineIndex(chunk)
        line = chunk.first_line - 1
        lines = chunk.data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        check_utf8 = not _valid_utf8(chunk.data)  # msgspec does not check the fields it skips
        for raw in lines:
            line += 1
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            if not raw or raw.isspace():
                out.blank += 1
                continue
            try:
                if check_utf8:
                    raw.decode("utf-8")
                obj = decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                out.invalid.append(_json_invalid(chunk.path, line, offsets.of(line), raw, exc))
                continue
            if key_attr is None:
                records.append((None, raw, line))
                continue
            key = key_bytes(getattr(obj, key_attr))
            if key is None:
                msg = f"key field {self._key_field!r} is missing, null or empty"
                out.invalid.append(Invalid(chunk.path, line, offsets.of(line), "key", msg))
                continue
            records.append((key, raw, line))
        return out


def _valid_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_invalid(path: str, line: int, offset: int, raw: bytes, exc: Exception) -> Invalid:
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or text.startswith(("JSON is malformed", "Input data was truncated")):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Invalid(path, line, offset, "encoding", f"invalid UTF-8 at byte {bad.start}")
        return Invalid(path, line, offset, "json", text)
    if text.startswith("Expected `object`") and " - at `" not in text:
        return Invalid(path, line, offset, "not_object", f"expected a JSON object, {text[len('Expected `object`, ') :]}")
    return Invalid(path, line, offset, "schema", text)


_AT_INDEX = re.compile(r"`\$\[(\d+)\]")


class _Fixer:
    """Per column: how to retry a CSV cell that msgspec's lax parsing refused.

    ``patch`` is the cheap pass (``.73`` -> ``0.73``, ``1.`` -> ``1.0``, empty
    optional cell -> None) on typed columns only; ``fix`` converts typed cells
    with Python's own ``float``/``int`` as the last resort.
    """

    def __init__(self, schema: type[msgspec.Struct], columns: tuple[str, ...]) -> None:
        kinds = {f.encode_name: _kind(f.type) for f in mi.type_info(schema).fields}  # type: ignore[union-attr]
        self.plan = [kinds.get(c, ("other", False)) for c in columns]
        self.floats = [i for i, (kind, _) in enumerate(self.plan) if kind == "float"]
        self.nullable = [i for i, (kind, null) in enumerate(self.plan) if null and kind != "str"]

    def patch(self, row: list[str]) -> list[Any]:
        out: list[Any] = list(row)
        for i in self.nullable:
            if not out[i]:
                out[i] = None
        for i in self.floats:
            v = out[i]
            if v:
                if v[0] == ".":
                    out[i] = "0" + v
                elif v[-1] == ".":
                    out[i] = v + "0"
                elif v[:2] == "-.":
                    out[i] = "-0" + v[1:]
        return out

    def fix(self, row: list[str]) -> list[Any]:
        out: list[Any] = []
        for value, (kind, nullable) in zip(row, self.plan, strict=False):
            stripped = value.strip()
            if not stripped and nullable and kind != "str":
                out.append(None)
            elif kind == "float":
                out.append(_try(float, stripped, value))
            elif kind == "int":
                out.append(_try(int, stripped, value))
            else:
                out.append(value)
        return out


def _try(conv: type, text: str, original: str) -> Any:
    try:
        return conv(text)
    except ValueError:
        return original


def _kind(t: mi.Type) -> tuple[str, bool]:
    nullable = False
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        nullable = len(members) < len(t.types)
        t = members[0] if len(members) == 1 else t
    if isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.FloatType):
        return "float", nullable
    if isinstance(t, mi.IntType):
        return "int", nullable
    if isinstance(t, mi.StrType):
        return "str", nullable
    return "other", nullable


class _CsvPlan:
    """How rows under one header become (key, value)."""

    def __init__(self, header: tuple[str, ...], schema: type[msgspec.Struct] | None, key_field: str | None, path: str) -> None:
        self.header = header
        self.width = len(header)
        self.encode = msgspec.json.Encoder().encode
        self.key_index: int | None = None
        self.key_attr: str | None = None
        self.schema = schema
        self.positional = False
        if schema is None:
            if key_field is not None:
                if key_field not in header:
                    raise InputError(path, f"--key-field {key_field!r} is not a column of the CSV header", line=1)
                self.key_index = header.index(key_field)
            return
        infos = fields(schema)
        names = tuple(f.encode_name for f in infos)
        missing = [f.encode_name for f in infos if f.required and f.encode_name not in header]
        if missing:
            raise InputError(
                path, f"CSV header lacks column(s) {', '.join(missing)} required by schema {schema.__name__}", line=1
            )
        self.key_attr = _field_attr(schema, key_field) if key_field else None
        self.fixer = _Fixer(schema, header)
        if header == names:
            self.positional = True
            self.row_type = msgspec.defstruct(f"{schema.__name__}Row", [], bases=(schema,), array_like=True)
            self.out_type = msgspec.defstruct(
                f"{schema.__name__}Out", [(f.name, f.type) for f in infos], rename={f.name: f.encode_name for f in infos}
            )

    def convert(self, row: list[str]) -> tuple[Any, bytes]:
        """Typed object and encoded value, or raise ``msgspec.ValidationError``."""
        if self.positional:
            try:
                obj = msgspec.convert(row, self.row_type, strict=False)
            except msgspec.ValidationError:
                obj = self._retry(row, self.row_type, lambda r: r)
            return obj, self.encode(self.out_type(*astuple(obj)))
        assert self.schema is not None
        try:
            obj = msgspec.convert(dict(zip(self.header, row, strict=True)), self.schema, strict=False)
        except msgspec.ValidationError:
            obj = self._retry(row, self.schema, lambda r: dict(zip(self.header, r, strict=True)))
        return obj, self.encode(obj)

    def _retry(self, row: list[str], target: type, shape: Callable[[list[Any]], Any]) -> Any:
        try:
            return msgspec.convert(shape(self.fixer.patch(row)), target, strict=False)
        except msgspec.ValidationError:
            return msgspec.convert(shape(self.fixer.fix(row)), target, strict=False)

    def explain(self, exc: msgspec.ValidationError) -> str:
        return _AT_INDEX.sub(lambda m: f"`$.{self.header[int(m.group(1))]}", str(exc))


class CsvDecoder:
    def __init__(self, schema: type[msgspec.Struct] | None, key_field: str | None) -> None:
        self._schema = schema
        self._key_field = key_field
        if schema is not None and key_field is not None:
            _field_attr(schema, key_field)
        self._plans: dict[tuple[str, ...], _CsvPlan] = {}

    def plan_for(self, header: tuple[str, ...], path: str) -> _CsvPlan:
        plan = self._plans.get(header)
        if plan is None:
            plan = self._plans[header] = _CsvPlan(header, self._schema, self._key_field, path)
        return plan

    def decode(self, chunk: Chunk) -> Decoded:
        assert chunk.header is not None
        out = Decoded(chunk)
        plan = self.plan_for(chunk.header, chunk.path)
        offsets = LineIndex(chunk)
        text = chunk.data.decode("utf-8", errors="surrogateescape")
        damaged = not text.isascii() and _has_surrogates(text)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        base = chunk.first_line
        consumed = 0
        while True:
            line = base + consumed
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                consumed = reader.line_num
                out.invalid.append(Invalid(chunk.path, line, offsets.of(line), "csv", f"malformed CSV: {exc}"))
                continue
            consumed = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                out.blank += 1
                continue
            problem = self._row(plan, row, line, out.records, damaged)
            if problem is not None:
                reason, message = problem
                out.invalid.append(Invalid(chunk.path, line, offsets.of(line), reason, message))
        return out

    def _row(self, plan: _CsvPlan, row: list[str], line: int, records: list[Record], damaged: bool) -> tuple[Reason, str] | None:
        if len(row) != plan.width:
            return "csv", f"expected {plan.width} columns as in the header, got {len(row)}"
        if damaged and any(_has_surrogates(v) for v in row):
            return "encoding", "invalid UTF-8"
        if plan.schema is None:
            key = None
            if plan.key_index is not None:
                key = key_bytes(row[plan.key_index])
                if key is None:
                    return "key", f"key column {self._key_field!r} is empty"
            records.append((key, plan.encode(dict(zip(plan.header, row, strict=True))), line))
            return None
        try:
            obj, value = plan.convert(row)
        except msgspec.ValidationError as exc:
            return "schema", plan.explain(exc)
        key = None
        if plan.key_attr is not None:
            key = key_bytes(getattr(obj, plan.key_attr))
            if key is None:
                return "key", f"key field {self._key_field!r} is missing, null or empty"
        records.append((key, value, line))
        return None


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
