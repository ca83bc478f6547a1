"""Inputs read as they grow and appear (``--follow``, ``--watch``): one stream of records from files followed at once,
and from files a watched folder or glob gets later.

- ``--follow``: every file named (or found by a folder or glob) is followed (``follow.Follower``), all at once; their
  chunks interleave, each file's in order.
- ``--watch``: the folders and globs are listed again every ``--poll-interval``; a file not seen before is taken once
  its size and modification time have held for ``--settle`` (at once with 0: writers that rename a finished file into
  place). Files are taken in name order and, without ``--follow``, read to their ends one after another, each once (a
  name read to its end is not read again); with ``--follow``, each is followed from then on.
- ``--idle-exit``: the stream ends once nothing has been read and no file is waiting for that long. Else it ends only
  when the run stops it (a signal, ``--limit``).

Where a checkpoint has positions (``previous``), a followed file resumes where its own were, found by identity: the
file its name holds now if it is the same file, else (rotated while pump was stopped) the file in the same folder that
is, finished first, and then the new one from its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from pump.errors import InputError
from pump.input.files import FileSource, open_sources
from pump.input.follow import FileEvent, Follower, Item, LiveStats, find_moved, is_same, open_file
from pump.input.listing import Listing, expand, is_pattern
from pump.input.opening import HEAD_BYTES, fingerprint_of
from pump.input.parquet import ParquetSource
from pump.input.remote import is_url
from pump.input.source import START, FileId, Position


def position_key(path: str) -> str:
    """How positions of earlier runs name a file: a local path made absolute, a URL as it is (as checkpoints do)."""
    return path if is_url(path) else os.path.abspath(path)


class LiveInput:
    """The inputs ``paths`` (files, folders, globs), followed (``follow``) and watched (``watch``)."""

    def __init__(
        self,
        paths: tuple[str, ...],
        listing: Listing,
        *,
        follow: bool,
        watch: bool,
        fmt: str = "auto",
        delimiter: str | None = None,
        columns: tuple[str, ...] | None = None,
        chunk_bytes: int | None = None,
        settle: float = 0.0,
        poll_interval: float = 1.0,
        idle_exit: float | None = None,
        previous: dict[str, Position] | None = None,
    ) -> None:
        self.paths = paths
        self.listing = listing
        self.follow, self.watch = follow, watch
        self.fmt, self.delimiter, self.columns, self.chunk_bytes = fmt, delimiter, columns, chunk_bytes
        self.settle, self.poll_interval, self.idle_exit = settle, poll_interval, idle_exit
        self.previous = previous or {}
        self.stats = LiveStats()
        self.resumed: dict[str, Position] = {}  # where the files found at the start resume: the completion's start
        self._taken: set[str] = set()
        self._seen: dict[str, tuple[int, int, float]] = {}  # a new file's size, mtime and since when it held them
        self._out: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)
        self._tasks: set[asyncio.Task[None]] = set()
        self._once: asyncio.Queue[str] = asyncio.Queue()  # files read to their ends one after another, in name order

    def check(self) -> list[str]:
        """The files there are now (blocking). Refuses, each in one line: a watched path that is neither a folder nor a
        glob, a followed URL or Parquet file; a folder or glob with nothing in it only where it is not watched."""
        for path in self.paths:
            if is_url(path) and self.follow:
                raise InputError(path, "an object in a store cannot be followed (it does not grow): drop --follow")
            if self.watch and not (is_pattern(path) or path.endswith("/") or is_url(path) or os.path.isdir(path)):
                raise InputError(path, "not a folder or glob: --watch looks for new files in one")
        found = list(expand(self.paths, self.listing, empty_ok=self.watch))
        if self.follow:
            for source in open_sources(tuple(found), self.fmt, self.columns, self.delimiter):
                if isinstance(source, ParquetSource):
                    raise InputError(source.name, "a Parquet file cannot be followed (its footer is written last)")
        return found

    async def items(self) -> AsyncIterator[Item]:
        """Records and file events of every input, as they come, until ``idle_exit`` or the caller stops."""
        found = await asyncio.to_thread(self.check)
        try:
            for path in found:
                await self._take(path)
            if not self.follow:
                self._run("the files read once", self._read_once)
            if self.watch:
                self._run("the watched folders", self._watch)
            self.stats.last_read = time.monotonic()
            async for item in self._merged():
                yield item
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self, name: str, work: Callable[[], Any]) -> None:
        task = asyncio.create_task(self._pump(name, work), name=f"pump-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _merged(self) -> AsyncIterator[Item]:
        stats = self.stats
        while True:
            wait = None
            if self.idle_exit is not None:
                wait = max(self.idle_exit - (time.monotonic() - stats.last_read), 0.05)
            try:
                item = await asyncio.wait_for(self._out.get(), wait)
            except TimeoutError:
                if stats.pending or self._once.qsize() or time.monotonic() - stats.last_read < (self.idle_exit or 0):
                    continue
                return
            if isinstance(item, BaseException):
                raise item
            if not isinstance(item, FileEvent):
                stats.last_read = time.monotonic()
            yield item

    async def _pump(self, name: str, work: Callable[[], AsyncIterator[Item] | Any]) -> None:
        """Runs a producer of items into the merged stream; its failure ends the stream (raised to the reader)."""
        try:
            result = work()
            if hasattr(result, "__aiter__"):
                async with contextlib.aclosing(result) as items:
                    async for item in items:
                        await self._out.put(item)
            else:
                await result
        except asyncio.CancelledError:
            raise
        except OSError as exc:  # a file gone or unreadable, met between its reads: the run stops, naming it
            await self._out.put(InputError(name, exc.strerror or str(exc)))
        except Exception as exc:  # handed to the reader, which reports it and stops
            await self._out.put(exc)

    async def _take(self, path: str) -> None:
        """Begins a file: followed at once, or queued to be read to its end after those before it."""
        self._taken.add(path)
        if not self.follow:
            self.stats.pending += 1
            await self._once.put(path)
            return
        follower = await asyncio.to_thread(self._follower, path)
        self._run(path, follower.items)

    def _follower(self, path: str) -> Follower:
        """A follower of ``path``, resuming where the checkpoint's positions of its file are (blocking)."""
        start, moved = START, None
        old = self.previous.get(position_key(path))
        file = old.file if old is not None else None
        if old is not None and file is not None and file.inode:
            fd, now = open_file(path)
            try:
                same = is_same(fd, file)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if same and size >= old.offset:
                start = Position(old.offset, old.line, old.done, now)
            elif same:
                self.stats.truncated += 1  # truncated while pump was stopped: read again from the start
            elif not old.done:
                where = find_moved(path, file)
                if where is not None and self._not_done(where, file):
                    moved = (where, Position(old.offset, old.line, file=file))
        if start.offset or start.done:
            self.resumed[path] = start
        return Follower(path, self.fmt, self.delimiter, self.chunk_bytes, self.stats, start, moved,
                        wait_for_name=not self.watch)  # fmt: skip

    def _not_done(self, path: str, file: FileId) -> bool:
        old = self.previous.get(position_key(path))
        return not (old is not None and old.done and old.file is not None and old.file.inode == file.inode)

    async def _read_once(self) -> AsyncIterator[Item]:
        """Files read to their ends, one after another in the order taken; a name read to its end before is skipped."""
        while True:
            path = await self._once.get()
            self.stats.pending -= 1
            old = self.previous.get(position_key(path))
            if old is not None and old.done:
                continue
            source = (await asyncio.to_thread(open_sources, (path,), self.fmt, self.columns, self.delimiter))[0]
            print_ = await asyncio.to_thread(fingerprint_of, path)
            file = FileId(dev=0, inode=0, head_bytes=HEAD_BYTES, head_sha256=print_.head_sha256)  # read once: by name
            start = START
            if old is not None and old.file is not None and old.file.head_sha256 == print_.head_sha256:
                start = Position(old.offset, old.line, file=file)
            yield FileEvent(path, "start", file, start)
            async for chunk in _stamped(source, start, self.chunk_bytes, file):
                self.stats.last_read = time.monotonic()
                yield chunk
            self.stats.finished += 1
            yield FileEvent(path, "end", file)

    async def _watch(self) -> None:
        """Lists the folders and globs every ``poll_interval``; takes each new file once it has settled, in name order."""
        while True:
            await asyncio.sleep(self.poll_interval)
            found = await asyncio.to_thread(expand, self.paths, self.listing, True)
            fresh = [path for path in found if path not in self._taken]
            if not fresh:
                continue
            settled = await asyncio.to_thread(self._settled, fresh)
            for path in settled:
                await self._take(path)

    def _settled(self, fresh: list[str]) -> list[str]:
        """Of new files (in name order), those that have held their size and modification time for ``settle``; the
        first that has not holds back those after it (blocking: it stats them)."""
        now = time.monotonic()
        ready = []
        for path in fresh:
            if self.settle <= 0:
                ready.append(path)
                continue
            try:
                size, mtime = fingerprint_of(path).size, os.stat(path).st_mtime_ns if not is_url(path) else 0
            except (OSError, InputError):
                continue
            seen = self._seen.get(path)
            if seen is None or seen[:2] != (size, mtime):
                self._seen[path] = (size, mtime, now)
                self.stats.last_read = time.monotonic()  # a file being written is something new
                break
            if now - seen[2] < self.settle:
                break
            del self._seen[path]
            ready.append(path)
        return ready


async def _stamped(source: FileSource | ParquetSource, start: Position, chunk_bytes: int | None,
                   file: FileId) -> AsyncIterator[Item]:  # fmt: skip
    """A file's chunks, each carrying ``file`` into its position."""
    async with contextlib.aclosing(source.chunks(start, chunk_bytes)) as chunks:
        async for chunk in chunks:
            chunk.file = file
            yield chunk


def live_input(settings: Any) -> LiveInput:
    """The live input ``--follow``/``--watch`` and the settings around them ask for (``previous``: set by the plan)."""
    return LiveInput(
        settings.paths, Listing.of(settings), follow=settings.follow, watch=settings.watch, fmt=settings.format,
        delimiter=settings.field_delimiter, columns=settings.column_list, chunk_bytes=settings.chunk_bytes,
        settle=settings.settle, poll_interval=settings.poll_interval, idle_exit=settings.idle_exit,
    )  # fmt: skip
