"""CSV rows -> records: a row becomes a JSON object encoded by msgspec, typed by the schema when there is one.

Fast path: a header equal to the schema's fields converts the row positionally (an
``array_like`` twin of the schema). Values msgspec's lax parsing refuses but CSV
writers produce (``.73``, ``1.``, empty optional cells) get one retry through a cheap
patch pass, then Python's own ``float``/``int``. Plans are built once per distinct header.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from msgspec import inspect as mi
from msgspec.structs import astuple, fields

from pump.decode.arrowcsv import ArrowRows
from pump.decode.keys import key_bytes, missing_key
from pump.decode.lines import LineIndex
from pump.decode.parsed import Parsed, Share, field_attr
from pump.errors import InputError
from pump.input import Chunk
from pump.input.cutter import MAX_RECORD_BYTES
from pump.records import Invalid, InvalidReason, Record

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

    def __init__(
        self,
        header: tuple[str, ...],
        schema: type[msgspec.Struct] | None,
        key_field: str | None,
        path: str,
        arrow: bool,
        delimiter: str = ",",
    ) -> None:
        self.header = header
        self.delimiter = delimiter
        self.width = len(header)
        self.encode = msgspec.json.Encoder().encode
        self.key_index: int | None = None
        self.key_attr: str | None = None
        self.schema = schema
        self.key_kind = "str"
        self.positional = False
        self.arrow: ArrowRows | None = None
        if schema is None:
            if key_field is not None:
                if key_field not in header:
                    raise InputError(path, f"--key-field {key_field!r} is not a column of the CSV header", line=1)
                self.key_index = header.index(key_field)
            self.arrow = ArrowRows.of(header, schema, key_field, delimiter) if arrow else None
            return
        infos = fields(schema)
        names = tuple(f.encode_name for f in infos)
        missing = [f.encode_name for f in infos if f.required and f.encode_name not in header]
        if missing:
            raise InputError(
                path, f"CSV header lacks column(s) {', '.join(missing)} required by schema {schema.__name__}", line=1
            )
        self.key_attr = field_attr(schema, key_field) if key_field else None
        self.fixer = _Fixer(schema, header)
        if self.key_attr is not None:  # where a key can be read without converting the row (``cell_key``)
            info = next(f for f in infos if f.name == self.key_attr)
            if info.encode_name in header:
                self.key_index = header.index(info.encode_name)
                self.key_kind = _kind(mi.type_info(info.type))[0]
        if header == names:
            self.positional = True
            self.row_type = msgspec.defstruct(f"{schema.__name__}Row", [], bases=(schema,), array_like=True)
            self.out_type = msgspec.defstruct(
                f"{schema.__name__}Out", [(f.name, f.type) for f in infos], rename={f.name: f.encode_name for f in infos}
            )
        self.arrow = ArrowRows.of(header, schema, key_field, delimiter) if arrow else None

    def cell_key(self, row: list[str]) -> bytes | None:
        """The row's key read from its cell where converting the row could not change it (text; digits without a
        leading zero for an integer); None where only the conversion can tell, or there is no key."""
        if self.key_index is None:
            return None
        cell = row[self.key_index]
        if self.key_kind == "str":
            return None if _has_surrogates(cell) else cell.encode()
        if self.key_kind == "int" and cell.isascii() and cell.isdigit() and (cell[0] != "0" or cell == "0"):
            return cell.encode()
        return None

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
    """``arrow``: take Arrow's fast path (``arrowcsv``) where it gives the same records; False: Python's alone."""

    def __init__(self, schema: type[msgspec.Struct] | None, key_field: str | None, arrow: bool = True) -> None:
        self._schema = schema
        self._key_field = key_field
        self._arrow = arrow
        if schema is not None and key_field is not None:
            field_attr(schema, key_field)
        self._plans: dict[tuple[tuple[str, ...], str], _CsvPlan] = {}
        if csv.field_size_limit() < MAX_RECORD_BYTES:
            # the csv module refuses a field over 128 KiB by default, and starts afresh on the line after, inside what
            # the cutter knows is still a quoted field; a record may be as long as the cutter allows (process-wide)
            csv.field_size_limit(MAX_RECORD_BYTES)

    def plan_for(self, header: tuple[str, ...], path: str, delimiter: str = ",") -> _CsvPlan:
        plan = self._plans.get((header, delimiter))
        if plan is None:
            plan = _CsvPlan(header, self._schema, self._key_field, path, self._arrow, delimiter)
            self._plans[header, delimiter] = plan
        return plan

    def decode(self, chunk: Chunk, share: Share | None = None, columnar: bool = False) -> Parsed:
        """Every row is parsed (only a CSV parser can tell where a row ends). With a ``share``, a row whose key
        cell tells its partition is converted by that partition's run only, and answered for there; any other
        row by every run, each keeping the record if it sends the key's partition, the first reporting it bad."""
        assert chunk.header is not None
        plan = self.plan_for(chunk.header, chunk.path, chunk.delimiter)
        if plan.arrow is not None and (fast := plan.arrow.decode(chunk, share, columnar)) is not None:
            return fast
        out = Parsed()
        offsets = LineIndex(chunk)
        text = chunk.data.decode("utf-8", errors="surrogateescape")
        damaged = not text.isascii() and _has_surrogates(text)
        first = share is None or share.first
        for line, row in _rows(text, chunk.first_line, plan.delimiter):
            if isinstance(row, csv.Error):
                if first:
                    out.invalid.append(Invalid(chunk.path, line, offsets.of(line), "csv", _malformed(row)))
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                out.blank += first
                continue
            shared = False  # converted by every run: kept here only if this run sends it, reported by the first
            if share is not None:
                key = plan.cell_key(row) if len(row) == plan.width else None
                if key is not None or (plan.key_attr is None and plan.key_index is None):
                    if not share.sends(key, line):
                        continue
                else:
                    shared = True
            problem = self._row(plan, row, line, out.records, damaged)
            if problem is not None:
                if not shared or first:
                    reason, message = problem
                    out.invalid.append(Invalid(chunk.path, line, offsets.of(line), reason, message))
            elif shared and not share.sends(out.records[-1][0], line):  # type: ignore[union-attr]
                out.records.pop()
        return out

    def _row(
        self, plan: _CsvPlan, row: list[str], line: int, records: list[Record], damaged: bool
    ) -> tuple[InvalidReason, str] | None:
        if len(row) != plan.width:
            return "csv", f"expected {plan.width} columns as in the header, got {len(row)}"
        if damaged and any(_has_surrogates(v) for v in row):
            return "encoding", "invalid UTF-8"
        if plan.schema is None:
            key = None if plan.key_index is None else row[plan.key_index].encode()  # an empty cell is the empty key
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
                return "key", missing_key(str(self._key_field))
        records.append((key, value, line))
        return None


def _rows(text: str, first_line: int, delimiter: str = ",") -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Each row with the number of the line it starts on (or the parser's error). Text without a quote or a CR
    is split on newlines and delimiters, a row a line (a third faster than the csv module for the rides); any other
    goes through the csv module, which knows quoted fields, embedded newlines and CRLF. It is given the lines as
    pump numbers them, split at each LF only: read from a text stream, it would also count a lone CR as a line's end,
    and every row after one would carry the wrong number (its dead letter another line's text)."""
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    if '"' not in text and "\r" not in text:
        yield from enumerate((line.split(delimiter) for line in lines), first_line)
        return
    ends = len(lines) - (0 if text.endswith("\n") else 1)
    reader = csv.reader((line + "\n" if i < ends else line for i, line in enumerate(lines)), delimiter=delimiter, strict=True)
    consumed = 0
    while True:
        line = first_line + consumed
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num
            yield line, exc
            continue
        consumed = reader.line_num
        yield line, row


def _malformed(error: csv.Error) -> str:
    """The csv module's words, but for a CR alone in an unquoted field, where they speak of opening a file."""
    text = str(error)
    if text.startswith("new-line character seen in unquoted field"):
        return "malformed CSV: a carriage return (CR) inside an unquoted field; quote the field, or end lines with LF or CRLF"
    return f"malformed CSV: {text}"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
