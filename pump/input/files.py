"""Files as sources: local files and stdin (aiofiles), and objects named by URL (``remote``: ``s3://...``), opened up
front, read in big blocks off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import stat
from collections.abc import AsyncIterator
from typing import Any

import aiofiles

import pump.input.remote as remote
from pump.errors import InputError, UsageError
from pump.input.compression import GZIP_MAGIC, ZSTD_MAGIC
from pump.input.cutter import Cutter
from pump.input.formats import format_by_content, format_by_name
from pump.input.listing import Listing, expand
from pump.input.opening import HEAD_BYTES, fingerprint_of, open_sync
from pump.input.parquet import MAGIC as PARQUET_MAGIC
from pump.input.parquet import ParquetSource
from pump.input.shards import Input, Piece, plan
from pump.input.source import START, Chunk, Fingerprint, Position, chunk_bytes_for

STDIN = "-"
PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


class FileSource:
    """A file on disk, or stdin (``-``). ``size`` is None for stdin and pipes.

    A shard reads a piece of a file: the lines from ``first`` (where a line starts, with its number: see
    ``line_start``) to before the first line that starts at or after ``end``.
    """

    def __init__(
        self,
        name: str,
        size: int | None,
        fmt: str = "auto",
        first: Position = START,
        end: int | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.format = fmt
        self.first = first
        self.end = end
        self.delimiter = delimiter  # CSV's (--delimiter); None: by the file's name

    async def chunks(self, start: Position, chunk_bytes: int | None) -> AsyncIterator[Chunk]:
        if self.first.offset > start.offset:
            start = self.first
        if self.end is not None and start.offset >= self.end:
            return
        try:
            f = await _open(self.name, live=self.size is None)
        except OSError as exc:
            raise InputError(self.name, exc.strerror or str(exc)) from None
        can_seek = not isinstance(f, _LiveFile) and (not isinstance(f, _RemoteFile) or f.seekable())  # else: read up to it
        cutter = Cutter(self.name, self.format, start, can_seek=can_seek, end=self.end, delimiter=self.delimiter)
        try:
            while True:
                try:
                    raw = await f.read(chunk_bytes_for(cutter.format, chunk_bytes))  # the format: once the cutter saw it
                except OSError as exc:
                    raise InputError(self.name, exc.strerror or str(exc), line=cutter.line) from None
                chunk = cutter.feed(raw)
                if chunk is not None:
                    yield chunk
                if cutter.finished:
                    return
                if cutter.failed is not None:
                    raise cutter.failed
                if cutter.seek_to is not None:
                    await f.seek(cutter.seek_to)
                    cutter.seeked()
                if not raw:
                    return
        finally:
            await f.close()

    def fingerprint(self) -> Fingerprint | None:
        if self.name == STDIN or self.size is None:
            return None
        return fingerprint_of(self.name)


class _RemoteFile:
    """An object named by URL, with aiofiles' ``read``/``seek``/``close``: each a blocking call on a thread."""

    def __init__(self, f: remote.RemoteFile) -> None:
        self._f = f

    def seekable(self) -> bool:
        return self._f.seekable()

    async def read(self, n: int) -> bytes:
        return await asyncio.to_thread(self._f.read, n)

    async def seek(self, offset: int) -> None:
        await asyncio.to_thread(self._f.seek, offset)

    async def close(self) -> None:
        await asyncio.to_thread(self._f.close)


class _LiveFile:
    """stdin, a pipe or a FIFO: each read takes what has arrived, up to ``n`` bytes, waiting only for the first of them,
    so a line written is sent at once, while a fast writer still fills whole chunks (``select`` says whether more is
    there without waiting). Reads run on a thread; at the end, a read gives b''."""

    def __init__(self, fd: int, owned: bool) -> None:
        self._fd, self._owned = fd, owned
        with contextlib.suppress(ImportError, OSError, AttributeError):  # a pipe of 1 MiB, not 64 KiB (Linux)
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    async def read(self, n: int) -> bytes:
        return await asyncio.to_thread(self._read, n)

    def _read(self, n: int) -> bytes:
        data = os.read(self._fd, n)
        parts, got = [data], len(data)
        while data and got < n and select.select([self._fd], [], [], 0)[0]:
            data = os.read(self._fd, n - got)
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    async def seek(self, offset: int) -> None:  # never asked: a live input cannot seek (``can_seek``)
        raise OSError("a pipe cannot seek")

    async def close(self) -> None:
        if self._owned:
            os.close(self._fd)


async def _open(name: str, live: bool = False) -> Any:
    if name == STDIN:
        return _LiveFile(0, owned=False)
    if remote.is_url(name):
        return _RemoteFile(await asyncio.to_thread(remote.open_binary, name))
    if live:  # a FIFO, /dev/stdin...: opening may wait for a writer
        return _LiveFile(await asyncio.to_thread(os.open, name, os.O_RDONLY), owned=True)
    return await aiofiles.open(name, "rb")


def line_start(path: str, offset: int, block: int = 1 << 20) -> Position:
    """Where the first line that starts at or after ``offset`` begins, and its number in the file (blocking: it
    counts the newlines before it, reading the file up to there)."""
    if offset <= 0:
        return START
    newlines = pos = 0
    with open_sync(path) as f:
        while pos < offset - 1:  # the newlines before the byte that may end the line before ours
            data = f.read(min(block, offset - 1 - pos))
            if not data:
                return Position(pos, newlines + 1)
            newlines += data.count(b"\n")
            pos += len(data)
        while data := f.read(block):
            found = data.find(b"\n")
            if found >= 0:
                return Position(pos + found + 1, newlines + 2)
            pos += len(data)
    return Position(pos, newlines + 1)  # no line starts there: an empty piece


def open_sources(
    paths: tuple[str, ...],
    fmt: str = "auto",
    columns: tuple[str, ...] | None = None,
    delimiter: str | None = None,
    listing: Listing | None = None,
) -> list[FileSource | ParquetSource]:
    """Sources for what the user named, folders and globs made the files they hold (``listing``); fails before
    anything is sent if one is missing or unreadable, a folder or glob holds no file, or (``columns``) a file lacks a
    column. Parquet by ``--format parquet``, the extension, or its magic bytes: each file's own, in a mixed folder.

    Blocking (it lists, stats and opens every file): call it off the event loop.
    """
    sources: list[FileSource | ParquetSource] = []
    for path in expand(paths, listing):
        if path == STDIN:
            sources.append(FileSource(STDIN, None, fmt, delimiter=delimiter))
            continue
        size = _check(path)
        if size is not None and _is_parquet(path, fmt):
            sources.append(ParquetSource(path, size, columns))
        else:
            sources.append(FileSource(path, size, fmt, delimiter=delimiter))
    if sum(s.name == STDIN for s in sources) > 1:
        raise UsageError("stdin ('-') can be read only once")
    return sources


def _is_parquet(path: str, fmt: str) -> bool:
    if fmt != "auto":
        return fmt == "parquet"
    if path.lower().endswith((".parquet", ".pq")):
        return True
    with open_sync(path) as f:
        return f.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def shard_sources(sources: list[FileSource | ParquetSource], index: int, count: int) -> list[FileSource | ParquetSource]:
    """The pieces of the inputs that shard ``index`` of ``count`` reads (see ``shards``). Blocking: it reads each
    input's first bytes, and counts the lines before a piece that starts inside a file."""
    by_name = {source.name: source for source in sources}
    mine: list[FileSource | ParquetSource] = []
    for piece in shard_plan(sources, count)[index]:
        source = by_name[piece.path]
        if piece.whole:
            mine.append(source)
            continue
        assert isinstance(source, FileSource)
        first = line_start(source.name, piece.start)
        end = source.size if piece.end is None else piece.end
        size = max(end - first.offset, 0)  # the piece's
        mine.append(FileSource(source.name, size, source.format, first, piece.end, source.delimiter))
    return mine


def shard_plan(sources: list[FileSource | ParquetSource], count: int) -> list[list[Piece]]:
    """Every shard's pieces (blocking: it reads each input's first bytes to tell if it may be cut)."""
    inputs = []
    for source in sources:
        if source.size is None:
            raise UsageError(f"{source.name}: a pipe or stdin cannot be split into shards; give files")
        inputs.append(Input(source.name, source.size, _cuttable(source)))
    return plan(inputs, count)


def _cuttable(source: FileSource | ParquetSource) -> bool:
    """A plain JSON-lines file: its byte offsets are the stream's, and no record spans a newline."""
    if isinstance(source, ParquetSource):
        return False
    with open_sync(source.name) as f:
        head = f.read(HEAD_BYTES)
    if head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        return False
    fmt = source.format if source.format != "auto" else format_by_name(source.name) or format_by_content(head)
    return fmt in ("jsonl", "lines")


def _check(path: str) -> int | None:
    if remote.is_url(path):
        return remote.stat(path)[0]
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
    if stat.S_ISFIFO(st.st_mode):  # opening would wait for a writer, and closing would lose what it wrote
        if not os.access(path, os.R_OK):
            raise InputError(path, "permission denied")
        return None
    try:  # really open it: os.access() says yes to root even where open() then fails
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    return st.st_size if stat.S_ISREG(st.st_mode) else None
