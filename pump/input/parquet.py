"""Parquet files (local, or a URL fsspec reads) as sources: read a record batch at a time, each batch turned into
JSON lines (``arrow.JsonLines``), so everything after the reader (schema validation, keys, partitions, sending,
accounting) is what it is for a JSON-lines file. Where the run sets ``frame`` (the batch mode sending record
batches as they are made), a batch its schema vouches for skips all that: it becomes one chunk
of Kafka record batches, made on its conversion thread (whole replays of 1M rides: 1.29x, the event loop's CPU
a quarter; README, Performance).

Memory is bounded by one row group's column chunks (pyarrow reads a row group's pages as it streams its batches)
and the chunk queue, whatever the file's size. Positions count rows: a chunk's ``first_line`` is its first row's
number (1-based), and a resume starts at the row group holding the checkpoint's row and skips to it. ``pyarrow``
is an optional extra (``pump[parquet]``); without it, naming a Parquet input is one line saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from pump.arrowlib import load
from pump.errors import InputError, UsageError, first_line
from pump.input.source import Chunk, Fingerprint, Position, chunk_bytes_for

MAGIC = b"PAR1"
ROW_BYTES = 512  # a rough JSON line of a ride: a chunk of ``chunk_bytes`` holds about this many more rows
#: Chunks made from one batch read and converted at once: Arrow's calls per batch (about two per column) each take
#: the GIL back from the busy event loop, so fewer, larger batches keep the converting thread going. Measured
#: (whole processes, alternating, 4 runs each, 1M rides as Parquet): 2 chunks a batch 6.65 s and 152 MB peak,
#: 4 chunks 6.22 s and 165 MB, 8 chunks 5.83 s and 185 MB; one chunk a batch (before) was 8.2 s and 141 MB.
CHUNKS_PER_BATCH = 4
#: Batches read and turned into JSON at once, each on a thread, while the event loop hands the one before on.
#: Measured (whole processes, alternating, 5 runs each, 1M rides as Parquet): 2 against 1 (before), 6.88 s against
#: 7.51, 169 MB peak against 155; up to 4 at once (a first version that did not wait for room before reading):
#: 5.09 s against 6.01, but 206 MB.
CONVERTING = 2


def _pyarrow() -> tuple[Any, Any]:
    if not load("pyarrow.parquet", "pyarrow.compute"):
        raise UsageError("reading Parquet needs pyarrow: pip install 'pump[parquet]'")
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


#: Given a batch, its rows' keys if every row is known valid by the columns' types, else None (``decode.vouch``).
Voucher = Callable[[Any], list[bytes | None] | None]
#: A converted chunk: its first row's index, its rows, its JSON lines, its keys if vouched for, its record batches if
#: framed.
Converted = tuple[int, int, bytes, list[bytes | None] | None, list[Any] | None]
#: Given a batch: whether every row is known valid (and keyed, where there is a key field), and its keys as an Arrow
#: binary array (None without a key field).
KeyArray = Callable[[Any], tuple[bool, Any]]
#: Given a chunk's keys (None: unkeyed) and values (Arrow binary arrays) and its first row's number, its records as
#: record batches ready to send (``decode.parsed.Framed``), or None where they must go the usual way.
FrameRows = Callable[[Any, Any, int], list[Any] | None]


class ParquetSource:
    """One Parquet file. ``columns``: only these, in this order (``--columns``); checked when made. ``vouch``: set by
    the run where a schema can vouch for batches, whose chunks then carry their keys and skip decoding."""

    def __init__(self, name: str, size: int, columns: tuple[str, ...] | None = None, datetime: str = "iso") -> None:
        self.name = name
        self.size = size
        self.datetime = datetime
        self.vouch: Voucher | None = None
        # set by the run where a vouched batch's keyed records may come as record batches (``framed``)
        self.frame: tuple[KeyArray, FrameRows] | None = None
        with self._file() as pf:
            names = pf.schema_arrow.names
            self.rows = pf.metadata.num_rows
        missing = [c for c in columns or () if c not in names]
        if missing:
            raise UsageError(f"--columns: {self.name} has no column {', '.join(map(repr, missing))} (it has {', '.join(names)})")
        self.columns = list(columns) if columns else None

    @contextlib.contextmanager
    def _file(self) -> Iterator[Any]:
        """The file, opened as Parquet (blocking); a file that is not one is an ``InputError`` naming it."""
        from pump.input.files import open_sync

        pa, pq = _pyarrow()
        with open_sync(self.name) as f:
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowException, OSError) as exc:
                raise InputError(self.name, f"not a readable Parquet file ({first_line(exc)})") from None
            try:
                yield pf
            finally:
                pf.close()

    def fingerprint(self) -> Fingerprint | None:
        from pump.input.files import fingerprint_of

        return fingerprint_of(self.name)

    def _batches(self, start_row: int, batch_rows: int) -> Iterator[tuple[int, Any]]:
        """(first row's index, batch) from ``start_row`` on; blocking, run a step at a time on a thread."""
        pa, _ = _pyarrow()
        with self._file() as pf:
            meta = pf.metadata
            row = 0
            for group in range(meta.num_row_groups):
                size = meta.row_group(group).num_rows
                if row + size <= start_row:
                    row += size
                    continue
                try:
                    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=self.columns):
                        skip = min(max(start_row - row, 0), batch.num_rows)
                        if skip < batch.num_rows:
                            yield row + skip, batch.slice(skip)
                        row += batch.num_rows
                except (pa.ArrowException, OSError) as exc:
                    raise InputError(self.name, f"row group {group}: {first_line(exc)}", line=row + 1) from None

    async def chunks(self, start: Position, chunk_bytes: int | None) -> AsyncIterator[Chunk]:
        """Batches read in order on a thread, each turned into JSON lines (or record batches: ``frame``) on a thread
        of its own while the next are read and converted: ``CONVERTING`` batches at once, since the event loop that
        hands them on is busy sending (whole processes, 1M rides: see the README's Parquet figures)."""
        from pump.input.arrow import JsonLines

        rows_per_chunk = max(chunk_bytes_for("jsonl", chunk_bytes) // ROW_BYTES, 1)
        batches = self._batches(start.offset, rows_per_chunk * CHUNKS_PER_BATCH)
        to_json: JsonLines | None = None  # made from the first batch's schema
        loop = asyncio.get_running_loop()
        converting: asyncio.Queue[asyncio.Future[Any] | None] = asyncio.Queue()
        room = asyncio.Semaphore(CONVERTING)  # batches read and not yet handed on
        stopping = False

        def convert(row: int, batch: Any) -> list[Converted]:  # blocking
            assert to_json is not None  # made before the first batch is handed to a conversion
            if self.frame is not None:
                key_array, frame_rows = self.frame
                vouched, keys = key_array(batch)
                made = frame_rows(keys, to_json.values(batch), row + 1) if vouched else None
                if made is not None:  # one chunk, already record batches: no JSON lines, no keys made in Python
                    return [(row, batch.num_rows, b"", None, made)]
            pieces = to_json.pieces(batch, rows_per_chunk)
            keys = self.vouch(batch) if self.vouch is not None else None
            n = rows_per_chunk
            return [(row + i * n, min(n, batch.num_rows - i * n), data, None if keys is None else keys[i * n : (i + 1) * n], None)
                    for i, data in enumerate(pieces)]  # fmt: skip

        async def read() -> None:  # the batches in order, each handed to a conversion; at most CONVERTING ahead
            nonlocal to_json
            try:
                while await room.acquire() and not stopping:
                    if (item := await asyncio.to_thread(next, batches, None)) is None:
                        break
                    if to_json is None:
                        to_json = JsonLines(item[1].schema, self.datetime)  # type: ignore[arg-type]
                    converting.put_nowait(asyncio.ensure_future(asyncio.to_thread(convert, *item)))
            except Exception as exc:  # handed on in its place: the consumer raises it after the batches before
                failed = loop.create_future()
                failed.set_exception(exc)
                converting.put_nowait(failed)
            converting.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while (next_batch := await converting.get()) is not None:
                got = await next_batch
                room.release()
                for row, rows, data, keys, made in got:
                    raw = self.size * rows // max(self.rows, 1)
                    yield Chunk(self.name, "jsonl", None, row + 1, row, data, raw, lines=rows, rows=True, keys=keys, framed=made)
        finally:
            stopping = True  # stopped early: the read in hand still uses the file; let it and the conversions end
            room.release()  # a reader waiting for room sees the stop
            await asyncio.wait({reader})
            while not converting.empty():
                if (left := converting.get_nowait()) is not None:
                    await asyncio.wait({left})
                    if not left.cancelled():
                        left.exception()  # retrieved: a stopped replay does not report what it no longer reads
            await asyncio.to_thread(batches.close)
