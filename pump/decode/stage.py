"""Stage 2, decode: a chunk -> its records grouped by partition, its invalid lines and blanks.

Whether chunks are decoded on the event loop (``InlineDecode``) or in worker processes
(``ProcessDecode``), the result has one shape, ``Decoded``, and comes from the same
decoders (``build_decoders``) and the same partitioner, so the stages after this one
never ask where decoding happened. What decoding may skip (a ``Framer`` making record
batches of a chunk's Arrow arrays) is chosen once, when the run is built, and handed in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec

from pump.config import InputSettings
from pump.decode.arrowcsv import available as arrow_available
from pump.decode.avrocolumns import AvroColumns
from pump.decode.csvrows import CsvDecoder
from pump.decode.eventtime import EventTimes
from pump.decode.jsonl import JsonLinesDecoder
from pump.decode.parquet import ParquetRows
from pump.decode.parsed import Decoder, Framed, FramedRows, Framer, Lines, Parsed
from pump.decode.partition import Partitioner
from pump.decode.plainlines import LinesDecoder
from pump.decode.shape import Shape
from pump.decode.values import ValueEncoder, encode_values
from pump.input import Chunk, RecordFormat, Source
from pump.input.formats import format_by_name
from pump.input.source import Read, RowBatch
from pump.records import ByPartition, Invalid

AUTO_PROCESSES_BYTES = 32 << 20
#: Threads decoding CSV through Arrow, and Parquet's rows: two chunks at once, beside the event loop. Measured (1M
#: rides as CSV, whole processes, alternating, 5 runs each): 5.49 s and 218 MB peak with two, 6.10 s and 170 MB with one.
DECODE_THREADS = 2


@dataclass(slots=True)
class Decoded:
    """One chunk, decoded: ``batches`` holds its ``count`` records by partition, in input order within each.
    ``chunk``: what its records' lines are read from (a Parquet batch's: its rows as JSON lines, or ``FramedRows``)."""

    chunk: Lines
    batches: ByPartition
    count: int
    invalid: list[Invalid]
    blank: int
    times: list[tuple[int, float]] | None = None  # --time-field: (line, event time) of each record, in input order
    framed: list[Framed] | None = None  # the records as record batches instead (``Framer``): ``batches`` is empty
    written: bool = False  # the values are in the registry's wire format already (``--value-format``)


class DecodeStage(Protocol):
    async def decode(self, chunk: Read) -> Decoded: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Decoders:
    """Every format's decoder, built once (in the main process, and once in each decode process)."""

    csv: CsvDecoder
    jsonl: JsonLinesDecoder
    parquet: ParquetRows
    lines: LinesDecoder

    def __getitem__(self, fmt: RecordFormat) -> Decoder:
        return self.csv if fmt == "csv" else self.lines if fmt == "lines" else self.jsonl


def build_decoders(
    schema: type[msgspec.Struct] | None, key_field: str | None, datetime: str = "iso", key_delimiter: str | None = None
) -> Decoders:
    """``datetime``: how Parquet's timestamps are written into records (``--datetime``); ``key_delimiter``: a line's
    key is its text before it (``--key-delimiter``, lines and JSON lines)."""
    jsonl = JsonLinesDecoder(schema, key_field, key_delimiter)
    return Decoders(CsvDecoder(schema, key_field), jsonl, ParquetRows(schema, key_field, datetime, jsonl),
                    LinesDecoder(key_delimiter))  # fmt: skip


def decode_chunk(
    decoders: Decoders,
    partitioner: Partitioner,
    chunk: Read,
    times: EventTimes | None = None,
    shape: Shape | None = None,
    framer: Framer | None = None,
    values: ValueEncoder | None = None,
    avro: AvroColumns | None = None,
) -> Decoded:
    """Sharded by partition, the decoder returns only the lines this run answers for (``parsed.Share``). With
    ``times``, each record's event time is read, and a record without one is invalid (reason ``time``); with
    ``shape``, values are written again (``--columns``, ``--datetime``); with ``values``, in a registry's wire format
    (``--value-format``; ``avro``: Parquet's rows written as Avro a column at a time, where they can be). With a
    ``framer`` (given only where none of those is), records the decoder has as Arrow arrays become record batches
    here, on the decoding thread."""
    share = None if partitioner.shard is None else partitioner
    if isinstance(chunk, RowBatch) and avro is not None and times is None:
        written = decoders.parquet.written(chunk, avro)
        if written is not None:
            text, parsed = written
            if share is not None:
                parsed.records = [r for r in parsed.records if share.sends(r[0], r[2])]
            return dataclasses.replace(_grouped(text, parsed, partitioner, None, None), written=True)
    if isinstance(chunk, RowBatch):
        framed = _framed_rows(decoders.parquet, framer, chunk)
        if framed is not None:
            return framed
        text, parsed = decoders.parquet.decode(chunk, share)
        return _grouped(text, parsed, partitioner, times, shape, values)
    parsed = decoders[chunk.format].decode(chunk, share, framer is not None)
    if parsed.values is not None:  # lines as they are: framed straight from the values
        framed_values = framer.values(partitioner.sticky(chunk.seq), parsed.values, chunk.first_line) if framer else None
        if framed_values is not None:
            return Decoded(chunk, {}, len(parsed.values), parsed.invalid, parsed.blank, framed=framed_values)
        parsed.as_records(chunk.first_line)
    if parsed.columns is not None:
        assert framer is not None
        framed_batches = framer.frame(parsed.columns, chunk.seq)
        if framed_batches is not None:
            return Decoded(chunk, {}, len(parsed.columns.values), parsed.invalid, parsed.blank, framed=framed_batches)
        parsed.records = parsed.columns.records()
    return _grouped(chunk, parsed, partitioner, times, shape, values)


def _framed_rows(parquet: ParquetRows, framer: Framer | None, rows: RowBatch) -> Decoded | None:
    """A Parquet batch the types vouch for, as record batches; None where it takes the usual way."""
    columns = parquet.columns(rows) if framer is not None else None
    framed = framer.frame(columns, rows.seq) if framer is not None and columns is not None else None
    if framed is None:
        return None
    return Decoded(FramedRows(rows.path, rows.first_line, rows.offset, rows.lines, rows.seq, framed), {}, rows.lines, [], 0,
                   framed=framed)  # fmt: skip


def _grouped(
    chunk: Chunk,
    parsed: Parsed,
    partitioner: Partitioner,
    times: EventTimes | None,
    shape: Shape | None,
    values: ValueEncoder | None = None,
) -> Decoded:
    """The records by partition, after their event times are read and their values shaped and encoded."""
    when = times.read(parsed, chunk) if times is not None else None
    before = len(parsed.records)
    if shape is not None:
        shape.apply(parsed, chunk)
    if values is not None:
        encode_values(values, parsed, chunk)
    if when is not None and len(parsed.records) < before:  # a record the shape or the schema refused has no time to keep
        kept = {r[2] for r in parsed.records}
        when = [(line, t) for line, t in when if line in kept]
    batches = partitioner.group(parsed.records, chunk.seq)
    return Decoded(chunk, batches, len(parsed.records), parsed.invalid, parsed.blank, when)


class InlineDecode:
    """Decodes in the main process: on the event loop's thread, or on a worker thread where Arrow does the work (CSV
    when pyarrow is installed, Parquet's rows), since its reader and kernels release the GIL (``arrowcsv``,
    ``arrowjson``) and the loop sends meanwhile. msgspec holds the GIL, so JSON lines on a thread would only take
    turns with the loop."""

    def __init__(
        self,
        decoders: Decoders,
        partitioner: Partitioner,
        times: EventTimes | None = None,
        shape: Shape | None = None,
        framer: Framer | None = None,
        values: ValueEncoder | None = None,
        avro: AvroColumns | None = None,
    ) -> None:
        self._decode = partial(decode_chunk, decoders, partitioner, times=times, shape=shape, framer=framer, values=values,
                               avro=avro)  # fmt: skip
        self._arrow_csv: bool | None = None  # known at the first CSV chunk (pyarrow's import is 50 MB)
        self._threads: ThreadPoolExecutor | None = None

    async def decode(self, chunk: Read) -> Decoded:
        if self._threaded(chunk):
            if self._threads is None:
                self._threads = ThreadPoolExecutor(DECODE_THREADS, "pump-decode")
            return await asyncio.get_running_loop().run_in_executor(self._threads, self._decode, chunk)
        return self._decode(chunk)

    def _threaded(self, chunk: Read) -> bool:
        if chunk.format == "csv":
            if self._arrow_csv is None:
                self._arrow_csv = arrow_available()
            return self._arrow_csv
        return chunk.format == "parquet"

    async def aclose(self) -> None:
        if self._threads is not None:
            await asyncio.to_thread(self._threads.shutdown, wait=True, cancel_futures=True)


def decode_processes_for(
    settings: InputSettings, sources: Sequence[Source], cores: int | None = None, arrow: bool | None = None
) -> int:
    """Decoding processes: as asked, or by default 2 for big CSV input on a multi-core machine without pyarrow.

    CSV rows cost several microseconds each to parse and type in Python, so a second core pays
    for shipping them; with pyarrow, Arrow decodes them on a thread of the main process (``arrowcsv``),
    which uses the second core without shipping anything, and each decode process would load its own
    pyarrow. JSON lines are validated faster than they could be shipped to another process, so they
    stay inline (measured: 0.97x offloaded vs 1.08x inline).
    """
    if settings.decode_processes is not None:
        return settings.decode_processes
    cores = cores if cores is not None else os.cpu_count() or 1
    big = sum(s.size or 0 for s in sources) >= AUTO_PROCESSES_BYTES or any(s.size is None for s in sources)
    fmt = settings.format
    csv = fmt == "csv" or (fmt == "auto" and any(format_by_name(s.name) == "csv" for s in sources))
    if not (csv and big and cores > 1):
        return 0
    return 0 if (arrow_available() if arrow is None else arrow) else min(2, cores)
