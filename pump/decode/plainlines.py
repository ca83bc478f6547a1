"""Lines as they are (``--format lines``) -> records: each line's bytes are the value, checked for nothing, as
``kcat -P -l`` sends a file; with ``--key-delimiter D`` (kcat's ``-K``), the bytes before the line's first ``D`` are
the key and the rest the value (a line without ``D``: no key, the whole line the value).

The line ending (``\\n``) is not sent; a ``\\r`` before it is (kcat keeps it too). Blank lines are skipped and counted,
as for JSON lines. One ``bytes.split`` over the chunk makes the values; no Arrow (its import alone is 40 MB and 0.14 s
of a run). Where a framer takes them (``columnar``: the batch mode's fast path), unkeyed values of lines with none blank
are handed on as they are (``Parsed.values``), and ``recordframing`` frames them in one more pass.
"""

from __future__ import annotations

from pump.decode.parsed import Parsed, Share
from pump.input import Chunk


class LinesDecoder:
    def __init__(self, key_delimiter: str | None = None) -> None:
        self._delimiter = key_delimiter.encode() if key_delimiter is not None else None

    def decode(self, chunk: Chunk, share: Share | None = None, columnar: bool = False) -> Parsed:
        out = Parsed()
        raws = chunk.data.split(b"\n")
        if raws and not raws[-1]:
            raws.pop()
        first = chunk.first_line
        delimiter = self._delimiter
        if delimiter is None and share is None and all(raws):  # the common case: no test per line
            out.values = raws
            if not columnar:  # nothing frames them
                out.as_records(first)
            return out
        records = out.records
        for line, raw in enumerate(raws, first):
            if not raw:
                out.blank += 1
                continue
            key = None
            if delimiter is not None:
                head, found, rest = raw.partition(delimiter)
                if found:
                    key, raw = head, rest
            if share is None or share.sends(key, line):
                records.append((key, raw, line))
        return out
