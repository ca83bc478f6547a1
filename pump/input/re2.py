"""Searching a chunk's bytes with RE2 (Arrow's regular expressions, which release the GIL), in place: where the
cutter and CSV's fast path ask whether a chunk is in a form they can take whole. Imported only with pyarrow."""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.compute as pc


def matches(data: bytes, pattern: str, end: int | None = None) -> bool:
    """Whether RE2 finds ``pattern`` in ``data[:end]``, searched in place (the GIL released). The bytes are wrapped as
    an array of one value, not copied: ``pa.array([data])`` copied, and a copy of each chunk kept the allocator's
    heap growing, 0.5 MB a 512 KiB chunk."""
    size = len(data) if end is None else end
    whole = pa.BinaryArray.from_buffers(pa.binary(), 1, [None, pa.py_buffer(struct.pack("<ii", 0, size)), pa.py_buffer(data)])
    return pc.all(pc.match_substring_regex(whole, pattern)).as_py() is True
