"""Where a chunk's lines start and what they hold, computed only when an error needs one."""

from __future__ import annotations

from itertools import accumulate

from pump.decode.parsed import FramedRows, Lines
from pump.input import Chunk

_RECORDS_FROM = 61  # a record batch's header (Kafka's ``DefaultRecordBatch``, magic 2), before its first record


class LineIndex:
    """Byte offsets and raw text of a chunk's physical lines (framed rows': their records' values)."""

    __slots__ = ("_chunk", "_starts", "_values")

    def __init__(self, chunk: Lines) -> None:
        self._chunk = chunk
        self._starts: list[int] | None = None
        self._values: dict[int, bytes] | None = None

    def _index(self, line: int) -> tuple[list[int], int]:
        assert isinstance(self._chunk, Chunk)
        if self._starts is None:
            lengths = (len(x) + 1 for x in self._chunk.data.split(b"\n"))
            self._starts = [0, *accumulate(lengths)]
        return self._starts, min(max(line - self._chunk.first_line, 0), len(self._starts) - 1)

    def of(self, line: int) -> int:
        """Byte offset (in the uncompressed input) where ``line`` starts; for a Parquet file, its row's index."""
        if self._chunk.rows:
            return self._chunk.offset + line - self._chunk.first_line
        starts, i = self._index(line)
        return self._chunk.offset + starts[i]

    def raw(self, line: int) -> bytes:
        """The physical line, without its line ending."""
        chunk = self._chunk
        if isinstance(chunk, FramedRows):
            if self._values is None:
                self._values = {line: value for _, batch, _, _, lines in chunk.framed
                                for line, value in zip(lines, record_values(batch), strict=True)}  # fmt: skip
            return self._values[line]
        starts, i = self._index(line)
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(chunk.data)
        return chunk.data[starts[i] : end].removesuffix(b"\r")


def record_values(batch: bytes | bytearray) -> list[bytes]:
    """The values of a record batch's records, in order (as ``output.kafka.framing`` writes them: no compression)."""
    values = []
    at = _RECORDS_FROM
    while at < len(batch):
        length, at = _varint(batch, at)
        end = at + length
        _, i = _varint(batch, at + 1)  # after the attributes: the timestamp delta
        _, i = _varint(batch, i)  # the offset delta
        key_length, i = _varint(batch, i)
        i += max(key_length, 0)  # -1: no key
        value_length, i = _varint(batch, i)
        values.append(bytes(batch[i : i + value_length]))
        at = end
    return values


def _varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """Kafka's zigzag varint at ``at``: its value and where the next field starts."""
    shift = raw = 0
    while True:
        byte = data[at]
        at += 1
        raw |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (raw >> 1) ^ -(raw & 1), at
        shift += 7
