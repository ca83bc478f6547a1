"""Parquet files (local, or a URL fsspec reads) as sources: read a record batch at a time, on a thread, each handed on
as it is (``RowBatch``): decode makes records of its rows (``pump.decode.parquet``).

Memory is bounded by one row group's column chunks (pyarrow reads a row group's pages as it streams its batches)
and the chunk queue, whatever the file's size. Positions count rows: a batch's ``first_line`` is its first row's
number (1-based), and a resume starts at the row group holding the checkpoint's row and skips to it. ``pyarrow``
is an optional extra (``pump[parquet]``); without it, naming a Parquet input is one line saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pump.arrowlib import load
from pump.errors import InputError, UsageError, first_line
from pump.input.opening import fingerprint_of, open_sync
from pump.input.source import Fingerprint, Position, RowBatch, chunk_bytes_for

MAGIC = b"PAR1"
#: About a ride's bytes in Arrow's columns (a quarter of its JSON line): a batch of ``chunk_bytes`` holds that over this
#: many rows, 8,192 for the default 1 MiB. Few, large batches keep the threads that decode them going: each of Arrow's
#: calls (about two per column a batch) takes the GIL back from the busy event loop. Measured (whole processes,
#: alternating, 4 runs each, 1M rides as Parquet, 2,048 rows a JSON-lines chunk): 2,048 rows a batch 8.2 s and 141 MB
#: peak, 8,192 rows 6.22 s and 165 MB, 16,384 rows 5.83 s and 185 MB.
ROW_BYTES = 128


def _pyarrow() -> tuple[Any, Any]:
    if not load("pyarrow.parquet", "pyarrow.compute"):
        raise UsageError("reading Parquet needs pyarrow: pip install 'pump[parquet]'")
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


class ParquetSource:
    """One Parquet file. ``columns``: only these, in this order (``--columns``); checked when made."""

    def __init__(self, name: str, size: int, columns: tuple[str, ...] | None = None) -> None:
        self.name = name
        self.size = size
        with self._file() as pf:
            names = pf.schema_arrow.names
            self.rows = pf.metadata.num_rows
            schema = pf.schema_arrow
        missing = [c for c in columns or () if c not in names]
        if missing:
            raise UsageError(f"--columns: {self.name} has no column {', '.join(map(repr, missing))} (it has {', '.join(names)})")
        self.columns = list(columns) if columns else None
        #: the Arrow schema of what is read (the columns asked for, in order): what a value schema is derived from
        self.schema = _pyarrow()[0].schema([schema.field(c) for c in self.columns]) if self.columns else schema

    @contextlib.contextmanager
    def _file(self) -> Iterator[Any]:
        """The file, opened as Parquet (blocking); a file that is not one is an ``InputError`` naming it."""
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

    async def chunks(self, start: Position, chunk_bytes: int | None) -> AsyncIterator[RowBatch]:
        """The batches from ``start`` on, in order, each read on a thread (a row group's pages decompressed there)."""
        batches = self._batches(start.offset, max(chunk_bytes_for("jsonl", chunk_bytes) // ROW_BYTES, 1))
        reading: asyncio.Future[Any] | None = None
        try:
            while True:
                reading = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                item = await asyncio.shield(reading)  # a cancelled run still waits for the read in hand (below)
                reading = None
                if item is None:
                    return
                row, batch = item
                yield RowBatch(self.name, batch, row + 1, row, self.size * batch.num_rows // max(self.rows, 1))
        finally:
            if reading is not None:  # stopped mid-read: the read in hand still uses the file; let it end first
                await asyncio.wait({reading})
                if not reading.cancelled():
                    reading.exception()  # retrieved: a stopped replay does not report what it no longer reads
            await asyncio.to_thread(batches.close)
