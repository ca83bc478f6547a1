"""Values written as Avro in worker processes, after decoding, wherever decoding happened.

Writing a rides record takes about 10 us (decoding its value into the schema's types, its timestamps made numbers,
fastavro's writer; msgspec decodes the same JSON line in 1 us), holding the GIL: on the event loop's thread it would
cap a replay near 80,000 records a second. So with ``--value-format avro`` on a
multi-core machine, each decoded chunk's records (already grouped by partition, their values JSON) are shipped to a
``ProcessPoolExecutor`` (spawned) whose processes hold only the encoder (msgspec and fastavro, no pyarrow, no decoders),
and come back written. Decoding stays where it is fastest (Arrow's threads for CSV and Parquet, inline for JSON lines).
A value that does not fit comes back as its line and the reason, made an ``Invalid`` here, where the chunk's text is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pump.decode.lines import LineIndex
from pump.decode.stage import Decoded, DecodeStage
from pump.decode.values import ValueEncoder, written
from pump.errors import PumpError
from pump.input import Chunk, Source
from pump.input.source import Read
from pump.records import ByPartition, Invalid

#: Input below this is written in this process (a process costs about half a second to start).
AUTO_BYTES = 4 << 20

_encoder: list[ValueEncoder] = []


def encode_processes_for(asked: int | None, sources: Sequence[Source], cores: int | None = None) -> int:
    """Processes writing Avro: as asked (``--encode-processes``), else 2 on a multi-core machine for input of 4 MiB
    and more (or of unknown size), else none."""
    if asked is not None:
        return asked
    cores = cores if cores is not None else len(os.sched_getaffinity(0))
    size = sum(s.size or 0 for s in sources)
    return min(2, cores) if cores > 1 and (size >= AUTO_BYTES or any(s.size is None for s in sources)) else 0


def _init(encoder: ValueEncoder) -> None:
    _encoder.append(encoder)


def _encode(batches: ByPartition) -> tuple[ByPartition, list[tuple[int, str]]]:
    """Every record's value written; those that do not fit, as (line, reason), left out."""
    out: ByPartition = {}
    bad: list[tuple[int, str]] = []
    for partition, records in batches.items():
        kept, unfitting = written(_encoder[0], records)
        bad.extend(unfitting)
        if kept:
            out[partition] = kept
    return out, bad


class EncodeInProcesses:
    """A decode stage whose records' values are then written by ``processes`` worker processes."""

    def __init__(self, inner: DecodeStage, encoder: ValueEncoder, processes: int) -> None:
        self._inner = inner
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(encoder,))  # fmt: skip

    async def decode(self, chunk: Read) -> Decoded:
        decoded = await self._inner.decode(chunk)
        if not decoded.count or decoded.written:  # nothing to write, or written a column at a time (Parquet)
            return decoded
        try:
            running = asyncio.get_running_loop().run_in_executor(self._pool, _encode, decoded.batches)
            batches, bad = await asyncio.shield(running)  # as ProcessDecode: the pool's future is never cancelled
        except BrokenProcessPool:
            raise PumpError(f"an encoding process died while writing {chunk.path} from line {chunk.first_line}"
                            " (killed, or out of memory?); what was sent before is accounted for") from None  # fmt: skip
        if not bad:
            return dataclasses.replace(decoded, batches=batches)
        return _without(decoded, batches, bad)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
        await self._inner.aclose()


def _without(decoded: Decoded, batches: ByPartition, bad: list[tuple[int, str]]) -> Decoded:
    """``decoded`` less the records that did not fit, which become invalid lines (their event times dropped too)."""
    text = decoded.chunk
    assert isinstance(text, Chunk)
    offsets = LineIndex(text)
    invalid = [Invalid(text.path, line, offsets.of(line), "schema", reason) for line, reason in bad]
    lines = {line for line, _ in bad}
    times = [(line, t) for line, t in decoded.times if line not in lines] if decoded.times is not None else None
    return dataclasses.replace(decoded, batches=batches, count=decoded.count - len(bad), times=times,
                               invalid=sorted([*decoded.invalid, *invalid], key=lambda i: i.line))  # fmt: skip
