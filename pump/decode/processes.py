"""Decoding in worker processes, so a replay uses more than one core.

asyncio runs pump's I/O on one thread, and msgspec and the csv module hold the GIL,
so decoding competes with sending on one core. ``ProcessDecode`` sends chunks to a
``ProcessPoolExecutor`` (spawned, never forked from a running event loop) whose
processes build their decoders and partitioner once, at start, exactly as the main
process does (``stage.build_decoders``), and return records already grouped by
partition. The chunk's bytes are not sent back. A Parquet file's rows are decoded by Arrow on a thread of
this process instead (``InlineDecode``): its kernels release the GIL, and its batches would cost more to ship.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pump.decode.eventtime import EventTimes
from pump.decode.partition import Partitioner
from pump.decode.shape import Shape
from pump.decode.stage import Decoded, Decoders, InlineDecode, build_decoders, decode_chunk
from pump.decode.values import ValueEncoder
from pump.errors import PumpError
from pump.input import Chunk
from pump.input.source import Read
from pump.records import ByPartition, Invalid
from pump.schemas import load_schema

_decoders: list[Decoders] = []
_partitioner: list[Partitioner] = []
_times: list[EventTimes | None] = []
_shape: list[Shape | None] = []
_values: list[ValueEncoder | None] = []


def _init(
    schema_spec: str | None,
    key_field: str | None,
    partitions: int,
    shard: tuple[int, int] | None,
    times: EventTimes | None,
    shape: Shape | None,
    values: ValueEncoder | None,
    key_delimiter: str | None,
) -> None:
    _decoders.append(build_decoders(load_schema(schema_spec) if schema_spec else None, key_field, key_delimiter=key_delimiter))
    _partitioner.append(Partitioner(partitions, shard=shard))
    _times.append(times)
    _shape.append(shape)
    _values.append(values)


def _decode(chunk: Chunk) -> tuple[ByPartition, int, list[Invalid], int, list[tuple[int, float]] | None]:
    out = decode_chunk(_decoders[0], _partitioner[0], chunk, _times[0], _shape[0], values=_values[0])
    return out.batches, out.count, out.invalid, out.blank, out.times


class ProcessDecode:
    """``rows``: where Parquet's rows are decoded (this process, on a thread)."""

    def __init__(
        self,
        rows: InlineDecode,
        processes: int,
        schema_spec: str | None,
        key_field: str | None,
        partitions: int,
        shard: tuple[int, int] | None,
        times: EventTimes | None = None,
        shape: Shape | None = None,
        values: ValueEncoder | None = None,
        key_delimiter: str | None = None,
    ) -> None:
        self._rows = rows
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(schema_spec, key_field, partitions, shard, times, shape, values, key_delimiter),
        )

    async def decode(self, chunk: Read) -> Decoded:
        if not isinstance(chunk, Chunk):
            return await self._rows.decode(chunk)
        try:
            running = asyncio.get_running_loop().run_in_executor(self._pool, _decode, chunk)
            running.add_done_callback(_seen)
            # shielded: cancelling this task must not cancel the pool's future. When a process dies, Python 3.11's
            # pool sets every pending future's exception from its own thread, and one cancelled meanwhile from here
            # made that thread fail with InvalidStateError (a traceback on stderr; seen once in a test run)
            batches, count, invalid, blank, times = await asyncio.shield(running)
        except BrokenProcessPool:
            raise PumpError(
                f"a decode process died while decoding {chunk.path} from line {chunk.first_line}"
                " (killed, or out of memory?); what was sent before is accounted for"
            ) from None
        return Decoded(chunk, batches, count, invalid, blank, times)

    async def aclose(self) -> None:
        """Stop the processes; waiting for them happens on a thread, not the event loop."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
        await self._rows.aclose()


def _seen(done: asyncio.Future[object]) -> None:
    """Takes a shielded decode's outcome that nobody awaits any more (its task was cancelled): not logged as lost."""
    if not done.cancelled():
        done.exception()
