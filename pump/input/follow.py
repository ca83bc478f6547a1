"""A file followed as it grows, as ``tail -F`` follows one (``--follow``).

After the file's end, it looks again, first after 10 ms and then every 50 ms: what was appended is read and cut into
chunks of whole lines (a last line without its newline waits for it). At each look it also asks what became of the
name:

- the name now holds another file (log rotation: renamed away and replaced): the old file is read to its end from the
  open handle, its last line finished, and the new file followed from its start;
- the name is gone (deleted): the old file is finished from the handle the same way, then the name is waited for
  (with ``--watch``, a file appearing there later is a new file the watch finds);
- the file is shorter than what was read (truncated in place: copy-truncate rotation): it is read again from its start,
  and counted (``LiveStats.truncated``). Lines written between the last look and the truncation are in the copy only,
  as with every follower of a copy-truncated file (rename rotation loses nothing).

Each chunk carries the file's identity (``FileId``: device, inode and a hash of its first bytes) into its position, so a
checkpoint knows which file an offset is in whatever its name is later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from pump.errors import InputError
from pump.input.cutter import Cutter
from pump.input.opening import HEAD_BYTES
from pump.input.source import START, FileId, Position, Read, chunk_bytes_for

FIRST_LOOK = 0.01  # seconds after reaching the end before the first look
LOOK_EVERY = 0.05  # then at most this apart: a line appended is read within it
GONE_LOOK = 0.1  # how often a name that is gone is looked for


@dataclass(slots=True)
class FileEvent:
    """What happened to a file, beside its records: reading began (``start``), or it was read to its end (``end``)."""

    path: str
    kind: Literal["start", "end"]
    file: FileId | None = None
    start: Position | None = None  # ``start``: where reading begins (resumed from an earlier run's positions)


#: What live inputs yield: records, and the files' starts and ends.
Item = Read | FileEvent


@dataclass
class LiveStats:
    """What is seen of live inputs, for the metrics and the progress line: bytes not read yet of each followed file,
    files found and not begun, files finished, truncations, and when the last record was read (monotonic)."""

    behind: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    finished: int = 0
    truncated: int = 0
    last_read: float = 0.0

    def bytes_behind(self) -> int:
        return sum(self.behind.values())


def identify(fd: int, head_bytes: int = HEAD_BYTES) -> FileId:
    """The identity of the open file ``fd`` (blocking: it reads up to ``head_bytes`` of its start)."""
    st = os.fstat(fd)
    head = os.pread(fd, head_bytes, 0)
    return FileId(dev=st.st_dev, inode=st.st_ino, head_bytes=len(head), head_sha256=hashlib.sha256(head).hexdigest())


def is_same(fd: int, file: FileId) -> bool:
    """Whether ``fd`` is the file ``file`` names: its device and inode, and its first ``head_bytes`` (blocking)."""
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (file.dev, file.inode) or st.st_size < file.head_bytes:
        return False
    return identify(fd, file.head_bytes) == file


def find_moved(path: str, file: FileId) -> str | None:
    """Where the file ``file`` went from ``path`` while pump was stopped: a file in the same folder with its device and
    inode (rotated: ``app.log`` -> ``app.log.1``) whose first bytes are still the same; None if there is none."""
    folder = os.path.dirname(path) or "."
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) != (file.dev, file.inode) or not entry.is_file():
                    continue
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    if is_same(fd, file):
                        return entry.path
                finally:
                    os.close(fd)
    return None


def open_file(path: str) -> tuple[int, FileId]:
    """``path`` opened for reading, with its identity (blocking). Raises ``InputError``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    try:
        return fd, identify(fd)
    except OSError as exc:
        os.close(fd)
        raise InputError(path, exc.strerror or str(exc)) from None


class Follower:
    """One name followed: the file there, read from ``start`` and then as it grows, and after it each file that
    replaces it. ``moved``: a file this name held when pump stopped, rotated away since, to finish first (its path,
    where its handled lines end). ``wait_for_name``: after a deletion, wait for the name to hold a file again (else
    end: ``--watch`` finds new files itself). ``resumed``: where a file found at the name resumes (by its identity)."""

    def __init__(
        self,
        path: str,
        fmt: str,
        delimiter: str | None,
        chunk_bytes: int | None,
        stats: LiveStats,
        start: Position = START,
        moved: tuple[str, Position] | None = None,
        wait_for_name: bool = True,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.delimiter = delimiter
        self.chunk_bytes = chunk_bytes
        self.stats = stats
        self.start = start
        self.moved = moved
        self.wait_for_name = wait_for_name
        self._reading: asyncio.Future[bytes] | None = None

    async def items(self) -> AsyncIterator[Item]:
        if self.moved is not None:  # rotated while pump was stopped: its rest first, in order
            path, start = self.moved
            fd, file = await asyncio.to_thread(open_file, path)
            async for item in self._file(path, fd, file, Position(start.offset, start.line, file=file), follow=False):
                yield item
        fd, file = await asyncio.to_thread(open_file, self.path)
        start = self.start if self.start.file is not None and self.start.file.inode == file.inode else START
        while True:
            async for item in self._file(self.path, fd, file, start, follow=True):
                yield item
            opened = await self._reopen()
            if opened is None:
                return
            (fd, file), start = opened, START

    async def _reopen(self) -> tuple[int, FileId] | None:
        """The file the name holds now, waited for if it is gone (None: not waited for)."""
        while True:
            try:
                return await asyncio.to_thread(open_file, self.path)
            except InputError:
                if not self.wait_for_name:
                    return None
            await asyncio.sleep(GONE_LOOK)

    async def _file(self, path: str, fd: int, file: FileId, start: Position, follow: bool) -> AsyncIterator[Item]:
        """One file from ``start``: to its end, and with ``follow`` on as it grows, until the name holds another file
        or none; then to its end from the handle. Closes ``fd``."""
        stats = self.stats
        try:
            yield FileEvent(path, "start", file, start)
            cutter = Cutter(path, self.fmt, start, can_seek=True, delimiter=self.delimiter, file=file)
            read_to, ending, wait = 0, not follow, FIRST_LOOK
            while True:
                raw = await self._read(fd, chunk_bytes_for(cutter.format, self.chunk_bytes), path, cutter.line)
                if raw:
                    read_to += len(raw)
                    if file.head_bytes < min(read_to, HEAD_BYTES):  # a fuller fingerprint, as the file grows
                        file = cutter.file = await asyncio.to_thread(identify, fd)
                    chunk = cutter.feed(raw)
                    if cutter.failed is not None:
                        raise cutter.failed
                    if cutter.seek_to is not None:
                        read_to = os.lseek(fd, cutter.seek_to, os.SEEK_SET)
                        cutter.seeked()
                    if chunk is not None:
                        stats.last_read = asyncio.get_running_loop().time()
                        yield chunk
                    wait = FIRST_LOOK
                    continue
                if ending:
                    break
                change, size = await asyncio.to_thread(_look, fd, path, read_to)
                stats.behind[path] = max(size - read_to, 0)
                if change == "truncated":
                    stats.truncated += 1
                    os.lseek(fd, 0, os.SEEK_SET)
                    file = await asyncio.to_thread(identify, fd)
                    cutter = Cutter(path, self.fmt, START, can_seek=True, delimiter=self.delimiter, file=file)
                    read_to = 0
                elif change != "same":  # rotated or deleted: what is left is read from the handle
                    ending = True
                else:
                    await asyncio.sleep(wait)
                    wait = LOOK_EVERY
            chunk = cutter.feed(b"")  # the file is finished: a last line without its newline is a record
            if cutter.failed is not None:
                raise cutter.failed
            if chunk is not None:
                yield chunk
            stats.finished += 1
            yield FileEvent(path, "end", file)
        finally:
            stats.behind.pop(path, None)
            if self._reading is not None and not self._reading.done():  # never close a file a thread is reading
                await asyncio.wait([self._reading])
            os.close(fd)

    async def _read(self, fd: int, n: int, path: str, line: int) -> bytes:
        self._reading = asyncio.ensure_future(asyncio.to_thread(os.read, fd, n))
        try:
            return await asyncio.shield(self._reading)
        except OSError as exc:
            raise InputError(path, exc.strerror or str(exc), line=line) from None


def _look(fd: int, path: str, read_to: int) -> tuple[Literal["same", "truncated", "rotated", "deleted"], int]:
    """What became of a followed file and its name, and the file's size (blocking: two stats)."""
    st = os.fstat(fd)
    if st.st_size < read_to:
        return "truncated", st.st_size
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return "deleted", st.st_size
    except OSError:
        return "same", st.st_size
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        return "rotated", st.st_size
    return "same", st.st_size
