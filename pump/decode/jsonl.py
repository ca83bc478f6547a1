"""JSON lines -> records. A line is validated (against the schema, else as a JSON object) and sent as its own bytes."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from typing import Any

import msgspec

from pump.decode.keys import key_bytes, missing_key
from pump.decode.lines import LineIndex
from pump.decode.parsed import Parsed, Share, field_attr
from pump.input import Chunk
from pump.records import Invalid

KEY_CACHE = 1 << 16  # distinct keys remembered per type; past it, the cache starts again


class JsonLinesDecoder:
    def __init__(self, schema: type[msgspec.Struct] | None, key_field: str | None, key_delimiter: str | None = None) -> None:
        self._key_attr: str | None = None
        self._key_delimiter = key_delimiter.encode() if key_delimiter is not None else None  # --key-delimiter: a key before
        if schema is not None:
            self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(schema)
            self._key_attr = field_attr(schema, key_field) if key_field else None
        elif key_field is not None:
            key_only = msgspec.defstruct("KeyOnly", [("k", object, None)], rename={"k": key_field})
            self._decoder = msgspec.json.Decoder(key_only)
            self._key_attr = "k"
        else:
            self._decoder = msgspec.json.Decoder(msgspec.defstruct("AnyObject", []))
        self._key_field = key_field
        self._ints: dict[int, bytes] = {}  # key field values -> key bytes: replayed data repeats its keys
        self._strs: dict[str, bytes] = {}

    def decode(self, chunk: Chunk, share: Share | None = None, columnar: bool = False) -> Parsed:
        data = chunk.data
        raws = data.split(b"\n")
        if raws and not raws[-1]:
            raws.pop()
        numbers = range(chunk.first_line, chunk.first_line + len(raws))
        keyed = self._key_attr is not None or self._key_delimiter is not None
        if share is not None and not keyed:  # unkeyed records go by line: decode only this run's
            keep = [share.sends(None, line) for line in numbers]
            raws, numbers = list(compress(raws, keep)), list(compress(numbers, keep))  # type: ignore[assignment]
        out = self._decode(
            chunk, raws, numbers, strip_cr=b"\r" in data, check_utf8=not valid_utf8(data)
        )  # msgspec does not check the fields it skips
        if share is not None and keyed:
            # Every run decodes every keyed line: deciding by the key field alone first was measured no cheaper for
            # the rides (1.31 against 1.30 us a line), since msgspec decodes a whole line in C about as fast.
            out.records = [r for r in out.records if share.sends(r[0], r[2])]
            if not share.first:
                out.invalid, out.blank = [], 0
        return out

    def _decode(self, chunk: Chunk, raws: list[bytes], numbers: Sequence[int], strip_cr: bool, check_utf8: bool) -> Parsed:
        """The hot loop: per line, one msgspec decode, one attribute read, one dict lookup for the key's bytes.

        Blank lines and a CR before the LF are rare, so they are looked for only where they can be: a line
        that fails to decode may be blank, and only a chunk that holds a CR has lines to strip.
        """
        out = Parsed()
        records = out.records
        decode = self._decoder.decode
        key_attr = self._key_attr
        ints, strs = self._ints, self._strs
        key_delimiter, prefix = self._key_delimiter, None
        offsets = LineIndex(chunk)  # built only if a line is invalid
        for raw, line in zip(raws, numbers, strict=True):
            if strip_cr and raw[-1:] == b"\r":
                raw = raw[:-1]
            if key_delimiter is not None:  # the line's key before its JSON value (kcat's -K)
                head, found, rest = raw.partition(key_delimiter)
                prefix, raw = (head, rest) if found else (None, raw)
            try:
                if check_utf8:
                    raw.decode("utf-8")
                obj = decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                if not raw or raw.isspace():
                    out.blank += 1
                else:
                    out.invalid.append(_json_invalid(chunk.path, line, offsets.of(line), raw, exc))
                continue
            if key_attr is None:
                records.append((prefix, raw, line))
                continue
            value = getattr(obj, key_attr)
            kind = type(value)  # exact types only: 1, True and 1.0 are equal keys of a dict, not equal Kafka keys
            cache = ints if kind is int else strs if kind is str else None
            key = None if cache is None else cache.get(value)
            if key is None:
                key = key_bytes(value)
                if key is None:
                    out.invalid.append(Invalid(chunk.path, line, offsets.of(line), "key", missing_key(str(self._key_field))))
                    continue
                if cache is not None:
                    if len(cache) >= KEY_CACHE:
                        cache.clear()
                    cache[value] = key
            records.append((key, raw, line))
        return out


def valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (ASCII is, at once)."""
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
