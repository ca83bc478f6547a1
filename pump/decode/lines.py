"""Where a chunk's lines start and what they hold, computed only when an error needs one."""

from __future__ import annotations

from itertools import accumulate

from pump.input import Chunk


class LineIndex:
    """Byte offsets and raw text of a chunk's physical lines."""

    __slots__ = ("_chunk", "_starts")

    def __init__(self, chunk: Chunk) -> None:
        self._chunk = chunk
        self._starts: list[int] | None = None

    def _index(self, line: int) -> tuple[list[int], int]:
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
        starts, i = self._index(line)
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(self._chunk.data)
        return self._chunk.data[starts[i] : end].removesuffix(b"\r")
