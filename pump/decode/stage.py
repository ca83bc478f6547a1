"""Stage 2, decode: a chunk -> its records grouped by partition, its invalid lines and blanks.

Whether chunks are decoded on the event loop (``InlineDecode``) or in worker processes
(``ProcessDecode``), the result has one shape, ``Decoded``, and comes from the same
decoders (``build_decoders``) and the same partitioner, so the stages after this one
never ask where decoding happened.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec

from pump.config import InputSettings
from pump.decode.arrowcsv import available as arrow_available
from pump.decode.csvrows import CsvDecoder
from pump.decode.eventtime import EventTimes
from pump.decode.jsonl import JsonLinesDecoder
from pump.decode.parsed import STICKY, Decoder, Framed, Framer
from pump.decode.partition import Partitioner
from pump.decode.shape import Shape
from pump.input import Chunk, RecordFormat, Source
from pump.input.formats import format_by_name
from pump.records import ByPartition, Invalid

AUTO_PROCESSES_BYTES = 32 << 20
#: Threads decoding CSV through Arrow: two chunks at once, beside the event loop. Measured (1M rides, whole
#: processes, alternating, 5 runs each): 5.49 s and 218 MB peak with two, 6.10 s and 170 MB with one.
CSV_THREADS = 2


@dataclass(slots=True)
class Decoded:
    """One chunk, decoded: ``batches`` holds its ``count`` records by partition, in input order within each."""

    chunk: Chunk
    batches: ByPartition
    count: int
    invalid: list[Invalid]
    blank: int
    times: list[tuple[int, float]] | None = None  # --time-field: (line, event time) of each record, in input order
    framed: list[Framed] | None = None  # the records as record batches instead (``Framer``): ``batches`` is empty


class DecodeStage(Protocol):
    async def decode(self, chunk: Chunk) -> Decoded: ...

    async def aclose(self) -> None: ...


def build_decoders(schema: type[msgspec.Struct] | None, key_field: str | None) -> dict[RecordFormat, Decoder]:
    """Every format's decoder, built once (in the main process, and once in each decode process)."""
    return {"csv": CsvDecoder(schema, key_field), "jsonl": JsonLinesDecoder(schema, key_field)}


def decode_chunk(
    decoders: dict[RecordFormat, Decoder],
    partitioner: Partitioner,
    chunk: Chunk,
    times: EventTimes | None = None,
    shape: Shape | None = None,
    framer: Framer | None = None,
) -> Decoded:
    """Sharded by partition, the decoder returns only the lines this run answers for (``parsed.Share``). With
    ``times``, each record's event time is read, and a record without one is invalid (reason ``time``); with
    ``shape``, values are written again (``--columns``, ``--datetime``). With a ``framer`` (and none of those),
    records the decoder has as Arrow arrays become record batches here, on the decoding thread."""
    if chunk.framed is not None:  # framed as it was read (Parquet: ``ParquetSource.frame``, set only where allowed)
        framed = chunk.framed
        if framed and framed[0][0] == STICKY:  # unkeyed: the chunk's own partition, now that its place is known
            framed = [(partitioner.sticky(chunk.seq), *rest) for _, *rest in framed]
        return Decoded(chunk, {}, chunk.lines, [], 0, framed=framed)
    columnar = framer is not None and partitioner.shard is None and times is None and shape is None
    parsed = decoders[chunk.format].decode(chunk, None if partitioner.shard is None else partitioner, columnar)
    if parsed.columns is not None:
        assert framer is not None
        framed = framer.frame(parsed.columns, chunk.seq)
        if framed is not None:
            return Decoded(chunk, {}, len(parsed.columns.values), parsed.invalid, parsed.blank, framed=framed)
        parsed.records = parsed.columns.records()
    when = times.read(parsed, chunk) if times is not None else None
    if shape is not None:
        shape.apply(parsed, chunk)
        if when is not None and parsed.invalid:  # a record the shape refused has no time to keep
            kept = {r[2] for r in parsed.records}
            when = [(line, t) for line, t in when if line in kept]
    batches = partitioner.group(parsed.records, chunk.seq)
    return Decoded(chunk, batches, len(parsed.records), parsed.invalid, parsed.blank, when)


class InlineDecode:
    """Decodes in the main process: on the event loop's thread, or, for CSV when pyarrow is installed, on a
    worker thread, since Arrow's CSV reader and kernels release the GIL (``arrowcsv``) and the loop sends meanwhile.
    msgspec holds the GIL, so JSON lines on a thread would only take turns with the loop."""

    def __init__(
        self,
        decoders: dict[RecordFormat, Decoder],
        partitioner: Partitioner,
        times: EventTimes | None = None,
        shape: Shape | None = None,
        framer: Framer | None = None,
    ) -> None:
        self._decoders = decoders
        self.partitioner = partitioner
        self._times = times
        self._shape = shape
        self.framer = framer  # set by the run once its sink is open, where the send mode takes framed batches
        self._threaded: bool | None = None  # CSV on a thread: known at the first CSV chunk (pyarrow's import is 50 MB)
        self._thread: ThreadPoolExecutor | None = None

    async def decode(self, chunk: Chunk) -> Decoded:
        if chunk.format == "csv" and self._threaded is None:
            self._threaded = arrow_available()
            if self._threaded:
                self._thread = ThreadPoolExecutor(CSV_THREADS, "pump-csv")
        if chunk.format == "csv" and self._thread is not None:
            call = partial(decode_chunk, self._decoders, self.partitioner, chunk, self._times, self._shape, self.framer)
            return await asyncio.get_running_loop().run_in_executor(self._thread, call)
        return decode_chunk(self._decoders, self.partitioner, chunk, self._times, self._shape, self.framer)

    async def aclose(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown, wait=True, cancel_futures=True)


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
    fmt = settings.format
    csv = fmt == "csv" or (fmt == "auto" and any(format_by_name(s.name) == "csv" for s in sources))
    big = sum(s.size or 0 for s in sources) >= AUTO_PROCESSES_BYTES or any(s.size is None for s in sources)
    if not (csv and big and cores > 1):
        return 0
    return 0 if (arrow_available() if arrow is None else arrow) else min(2, cores)
