"""Files -> chunks of whole lines.

The reader is async (aiofiles), reads big blocks, inflates gzip/zstd found by
their magic bytes, and cuts the stream into ``Chunk`` objects that always end
on a record boundary: after a newline, and for CSV only where the newline is
outside a quoted field (RFC 4180 quotes pair up, so quote parity tells). Each
chunk knows its file, the number of its first line and its byte offset in the
uncompressed stream, which is what reports and checkpoints need.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import aiofiles
import zstandard

from pump.errors import InputError, UsageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BOM = b"\xef\xbb\xbf"
STDIN = "-"
MAX_RECORD_BYTES = 64 << 20

RecordFormat = Literal["csv", "jsonl"]


@dataclass(slots=True)
class Chunk:
    """Whole lines of one file. ``data`` never ends inside a line or a quoted CSV field."""

    path: str
    format: RecordFormat
    header: tuple[str, ...] | None
    first_line: int
    offset: int
    data: bytes
    raw_bytes: int
    lines: int = 0  # physical lines in ``data``, counted once here
    seq: int = 0


@dataclass(slots=True, frozen=True)
class InputFile:
    path: str
    size: int | None  # bytes on disk; None for stdin and pipes


def check_inputs(paths: tuple[str, ...]) -> list[InputFile]:
    """Fail before anything is sent if an input is missing, a directory or unreadable."""
    files = []
    for path in paths:
        if path == STDIN:
            files.append(InputFile(path, None))
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise InputError(path, "no such file") from None
        except PermissionError:
            raise InputError(path, "permission denied") from None
        except OSError as exc:
            raise InputError(path, exc.strerror or str(exc)) from None
        if stat.S_ISDIR(st.st_mode):
            raise InputError(path, "is a directory, not a file")
        try:  # really open it: os.access() says yes to root even where open() then fails
            with open(path, "rb"):
                pass
        except PermissionError:
            raise InputError(path, "permission denied") from None
        except OSError as exc:
            raise InputError(path, exc.strerror or str(exc)) from None
        files.append(InputFile(path, st.st_size if stat.S_ISREG(st.st_mode) else None))
    if sum(f.path == STDIN for f in files) > 1:
        raise UsageError("stdin ('-') can be read only once")
    return files


def format_by_name(path: str) -> RecordFormat | None:
    name = path.lower()
    for ext in (".gz", ".gzip", ".zst", ".zstd"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def format_by_content(data: bytes) -> RecordFormat:
    start = data[len(BOM) :] if data.startswith(BOM) else data
    return "jsonl" if start.lstrip()[:1] in (b"{", b"[") else "csv"


class _Inflater:
    """Streams gzip (multi-member) or zstd (multi-frame), or passes plain bytes through."""

    def __init__(self, magic: bytes) -> None:
        self.kind = "gzip" if magic.startswith(GZIP_MAGIC) else "zstd" if magic.startswith(ZSTD_MAGIC) else None
        self._obj: zlib._Decompress | zstandard.ZstdDecompressionObj | None = None
        self._in_member = False

    def _new(self) -> zlib._Decompress | zstandard.ZstdDecompressionObj:
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.kind is None:
            return data
        out = []
        while data:
            if self._obj is None:
                self._obj = self._new()
            out.append(self._obj.decompress(data))
            self._in_member = True
            if self._obj.eof:
                data = self._obj.unused_data
                self._obj = None
                self._in_member = False
            else:
                data = b""
        return b"".join(out)

    def finish(self) -> None:
        """Raise if the stream stopped in the middle of a gzip member or zstd frame."""
        if self.kind is not None and self._in_member:
            raise ValueError(f"truncated {self.kind} stream")


def _boundary(buf: bytes, csv_quotes: bool) -> int:
    """Index just past the last record boundary in ``buf``, or 0 if there is none."""
    nl = buf.rfind(b"\n")
    if nl < 0 or not csv_quotes:
        return nl + 1
    quotes = buf.count(b'"', 0, nl)
    while quotes & 1:  # that newline sits inside a quoted field: look further back
        prev = buf.rfind(b"\n", 0, nl)
        if prev < 0:
            return 0
        quotes -= buf.count(b'"', prev, nl)
        nl = prev
    return nl + 1


def parse_header(raw: bytes, path: str) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"CSV header is not valid UTF-8 ({exc.reason})", line=1) from None
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if not rows or not rows[0]:
        raise InputError(path, "CSV header is empty", line=1)
    return tuple(name.strip() for name in rows[0])


async def read_chunks(
    path: str, fmt: str = "auto", chunk_bytes: int = 1 << 20, skip_to: int = 0, skip_line: int = 1
) -> AsyncIterator[Chunk]:
    """Yield ``path`` as chunks of whole records. ``-`` reads stdin.

    ``skip_to``/``skip_line`` resume after a checkpoint: an uncompressed byte offset at a
    record boundary and the number of the line there. Plain files seek; compressed ones
    are re-read and the bytes before ``skip_to`` dropped. A CSV header is always read.
    """
    try:
        f = await (aiofiles.open(0, "rb", closefd=False) if path == STDIN else aiofiles.open(path, "rb"))
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    try:
        async for chunk in _cut(f, path, fmt, chunk_bytes, skip_to, skip_line):
            yield chunk
    finally:
        await f.close()


async def _cut(
    f: aiofiles.threadpool.binary.AsyncBufferedReader, path: str, fmt: str, chunk_bytes: int, skip_to: int = 0, skip_line: int = 1
) -> AsyncIterator[Chunk]:
    inflater: _Inflater | None = None
    record_format: RecordFormat | None = None if fmt == "auto" else fmt  # type: ignore[assignment]
    header: tuple[str, ...] | None = None
    carry = b""
    raw_pending = 0
    line = 1
    offset = 0
    started = False
    eof = False
    while not eof:
        try:
            raw = await f.read(chunk_bytes)
        except OSError as exc:
            raise InputError(path, exc.strerror or str(exc), line=line) from None
        eof = not raw
        raw_pending += len(raw)
        if inflater is None:
            inflater = _Inflater(raw[:4])
        try:
            data = inflater.feed(raw) if raw else b""
            if eof:
                inflater.finish()
        except (zlib.error, zstandard.ZstdError, ValueError) as exc:
            # deliver the whole records before the damage (never the cut-off line), then fail the run
            whole = _boundary(carry, record_format == "csv")
            if whole:
                yield _chunk(path, record_format, header, line, offset, carry[:whole], raw_pending)
            raise InputError(path, f"cannot decompress: {exc}", line=line + carry.count(b"\n", 0, whole)) from None
        buf = carry + data if carry else data
        if not started:
            if not buf and not eof:
                continue
            started = True
            if buf.startswith(BOM):
                buf = buf[len(BOM) :]
                offset = len(BOM)
            if record_format is None:
                record_format = format_by_name(path) or format_by_content(buf)
        is_csv = record_format == "csv"
        if is_csv and header is None:
            end = _first_record_end(buf, eof)
            if end == 0:
                carry = buf
                if len(carry) > MAX_RECORD_BYTES:
                    raise InputError(path, "CSV header is longer than 64 MiB (an unclosed quote?)", line=1)
                continue
            header = parse_header(buf[:end], path)
            line += buf.count(b"\n", 0, end)
            offset += end
            buf = buf[end:]
        if skip_to > offset and inflater.kind is None:  # resume a plain file: seek past what is handled
            await f.seek(skip_to)
            offset, line, carry, skip_to = skip_to, skip_line, b"", 0
            continue
        cut = len(buf) if eof else _boundary(buf, is_csv)
        if cut == 0:
            carry = buf
            if len(carry) > MAX_RECORD_BYTES:
                raise InputError(path, "a record is longer than 64 MiB", line=line)
            continue
        body, carry = (buf, b"") if cut == len(buf) else (buf[:cut], buf[cut:])
        if skip_to > offset:  # resume a compressed file: drop what was handled before
            drop = min(skip_to - offset, len(body))
            line += body.count(b"\n", 0, drop)
            offset += drop
            body = body[drop:]
        if body:
            chunk = _chunk(path, record_format, header, line, offset, body, raw_pending)
            yield chunk
            raw_pending = 0
            line += chunk.lines  # only a file's last chunk can end without a newline
            offset += len(body)


def _chunk(
    path: str, fmt: RecordFormat | None, header: tuple[str, ...] | None, line: int, offset: int, data: bytes, raw: int
) -> Chunk:
    newlines = data.count(b"\n")
    lines = newlines + (0 if data.endswith(b"\n") else 1)
    return Chunk(path, fmt or "jsonl", header, line, offset, data, raw, lines)


def _first_record_end(buf: bytes, eof: bool) -> int:
    """End of the first CSV record (the header), quote-aware; 0 if it is not complete yet."""
    pos = 0
    quotes = 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return len(buf) if eof else 0
        quotes += buf.count(b'"', pos, nl)
        if not quotes & 1:
            return nl + 1
        pos = nl + 1
