"""Which input is fully handled: per-chunk outstanding records -> a contiguous low-water mark per file.

The reader registers every chunk (and every file's end) in input order; the decode
stage says how many of a chunk's lines must be settled (records, and invalid lines
being dead-lettered); deliveries and dead letters settle them. Only a prefix of chunks
whose records are all handled (acknowledged or dead-lettered) moves a file's
position, so a checkpoint never claims a line that is still in flight or failed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pump.input import Position
from pump.input.source import FileId, Read


@dataclass(slots=True)
class _Entry:
    path: str
    end: Position
    remaining: int | None  # None: not decoded yet
    seq: int = -1  # -1: a file's end marker
    read: tuple[int, int, int] = (0, 0, 0)  # the chunk's text bytes, raw bytes and lines


class Completion:
    """``resumed``: where inputs start, handled before this run (from a checkpoint)."""

    def __init__(self, resumed: dict[str, Position] | None = None) -> None:
        self._entries: deque[_Entry] = deque()
        self._by_seq: dict[int, _Entry] = {}
        self.positions: dict[str, Position] = {k: v for k, v in (resumed or {}).items() if v.offset or v.done}
        self.handled = [0, 0, 0]  # text bytes, raw bytes and lines of the chunks handled so far, as ``read`` counts them

    def read(self, chunk: Read) -> None:
        entry = _Entry(chunk.path, Position(chunk.end, chunk.first_line + chunk.lines, file=chunk.file), None, chunk.seq,
                       (chunk.text_bytes, chunk.raw_bytes, chunk.lines))  # fmt: skip
        self._entries.append(entry)
        self._by_seq[chunk.seq] = entry

    def resumed(self, path: str, start: Position) -> None:
        """A followed file begun where an earlier run's positions left it: that is its position until it moves."""
        if start.offset or start.done:
            self.positions[path] = start

    def file_done(self, path: str, file: FileId | None = None) -> None:
        """The reader reached the end of ``path`` (of ``file``, where it is followed): once everything before is
        handled, the file is done."""
        last = next((e.end for e in reversed(self._entries) if e.path == path), None) or self.positions.get(path)
        if last is not None and file is not None and last.file != file:
            last = None  # positions of another file at that name (rotated): this one ended with none read
        end = Position(last.offset, last.line, True, file) if last else Position(0, 1, True, file)
        self._entries.append(_Entry(path, end, 0))
        self._advance()

    def decoded(self, seq: int, records: int) -> None:
        self._by_seq[seq].remaining = records
        self._advance()

    def settled(self, seq: int, records: int) -> None:
        entry = self._by_seq.get(seq)
        if entry is None or entry.remaining is None:
            raise RuntimeError(f"chunk {seq} settled before it was decoded")
        entry.remaining -= records
        if entry.remaining == 0:
            self._advance()

    def _advance(self) -> None:
        entries = self._entries
        while entries and entries[0].remaining == 0:
            entry = entries.popleft()
            self.positions[entry.path] = entry.end
            for i, n in enumerate(entry.read):
                self.handled[i] += n
            self._by_seq.pop(entry.seq, None)
