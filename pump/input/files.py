"""Local files and stdin as sources: opened up front, read in big blocks off the event loop (aiofiles)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator

import aiofiles

from pump.errors import InputError, UsageError
from pump.input.cutter import Cutter
from pump.input.source import Chunk, Fingerprint, Position

STDIN = "-"
HEAD_BYTES = 64 << 10


class FileSource:
    """A file on disk, or stdin (``-``). ``size`` is None for stdin and pipes."""

    def __init__(self, name: str, size: int | None, fmt: str = "auto") -> None:
        self.name = name
        self.size = size
        self.format = fmt

    async def chunks(self, start: Position, chunk_bytes: int) -> AsyncIterator[Chunk]:
        try:
            f = await (aiofiles.open(0, "rb", closefd=False) if self.name == STDIN else aiofiles.open(self.name, "rb"))
        except OSError as exc:
            raise InputError(self.name, exc.strerror or str(exc)) from None
        cutter = Cutter(self.name, self.format, start, can_seek=self.name != STDIN)
        try:
            while True:
                try:
                    raw = await f.read(chunk_bytes)
                except OSError as exc:
                    raise InputError(self.name, exc.strerror or str(exc), line=cutter.line) from None
                chunk = cutter.feed(raw)
                if chunk is not None:
                    yield chunk
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
        st = os.stat(self.name)
        with open(self.name, "rb") as f:
            head = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
        return Fingerprint(size=st.st_size, mtime_ns=st.st_mtime_ns, head_sha256=head)


def open_sources(paths: tuple[str, ...], fmt: str = "auto") -> list[FileSource]:
    """Sources for what the user named; fails before anything is sent if one is missing, a directory or unreadable.

    Blocking (it stats and opens every file): call it off the event loop.
    """
    sources = [FileSource(STDIN, None, fmt) if path == STDIN else FileSource(path, _check(path), fmt) for path in paths]
    if sum(s.name == STDIN for s in sources) > 1:
        raise UsageError("stdin ('-') can be read only once")
    return sources


def _check(path: str) -> int | None:
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
    return st.st_size if stat.S_ISREG(st.st_mode) else None
