"""Decoding in worker processes, so a replay uses more than one core.

asyncio runs pump's I/O on one thread, and msgspec and the csv module hold the
GIL, so decoding competes with sending on one core. With ``decode_processes``
> 0, chunks go to a ``ProcessPoolExecutor`` (spawned, never forked from a
running event loop) whose processes build their decoders once, at start.
Results come back as plain tuples; the chunk's bytes are not sent back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from pump.decode import CsvDecoder, Decoded, Invalid, JsonLinesDecoder, Record
from pump.partition import Partitioner, group_keyed
from pump.schemas import load_schema
from pump.source import Chunk

_decoders: dict[str, CsvDecoder | JsonLinesDecoder] = {}


def _init(schema_spec: str | None, key_field: str | None) -> None:
    schema = load_schema(schema_spec) if schema_spec else None
    _decoders["csv"] = CsvDecoder(schema, key_field)
    _decoders["jsonl"] = JsonLinesDecoder(schema, key_field)


_partitioners: dict[int, Partitioner] = {}


def _decode(chunk: Chunk, partitions: int) -> tuple[dict[int, list[Record]], list[Record], list[Invalid], int, int]:
    """Decode, and group keyed records by partition here, off the sending core."""
    out = _decoders[chunk.format].decode(chunk)
    partitioner = _partitioners.get(partitions) or _partitioners.setdefault(partitions, Partitioner(partitions))
    grouped, unkeyed = group_keyed(out.records, partitioner)
    return grouped, unkeyed, out.invalid, out.blank, len(out.records)


class DecodePool:
    def __init__(self, processes: int, schema_spec: str | None, key_field: str | None) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(schema_spec, key_field),
        )

    async def decode(self, chunk: Chunk, partitions: int) -> tuple[Decoded, dict[int, list[Record]]]:
        """The decoded chunk (holding only unkeyed records) and the keyed records grouped by partition."""
        loop = asyncio.get_running_loop()
        grouped, unkeyed, invalid, blank, n = await loop.run_in_executor(self._pool, _decode, chunk, partitions)
        return Decoded(chunk, unkeyed, invalid, blank, keyed=n - len(unkeyed)), grouped

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
