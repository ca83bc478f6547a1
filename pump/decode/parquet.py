"""A Parquet file's rows (``RowBatch``) -> records: each row made a JSON object in Arrow's kernels (``arrowjson``),
then taken as it is where the columns' types prove every row valid (``vouch``: its key read from the key column),
else decoded line by line as any JSON line is (``jsonl``), which reports each bad row with its reason.

Run on a decode thread (``stage.InlineDecode``): Arrow's kernels release the GIL, so the event loop sends meanwhile.
Where the run sends record batches as they are (``Framer``), rows vouched for stay Arrow arrays
(``columns``) and become record batches there too, never Python objects; where values are written as Avro, rows
vouched for are written a column at a time (``written``). pyarrow is imported at the first batch.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pump.decode.avrocolumns import AvroColumns
from pump.decode.jsonl import JsonLinesDecoder, valid_utf8
from pump.decode.parsed import Columns, Parsed, Share
from pump.decode.vouch import Vouch
from pump.input import Chunk
from pump.input.source import RowBatch


class ParquetRows:
    """Built once per run, like the other formats' decoders; ``datetime``: how timestamps are written (``--datetime``)."""

    def __init__(
        self, schema: type[msgspec.Struct] | None, key_field: str | None, datetime: str, lines: JsonLinesDecoder
    ) -> None:
        self._vouch = Vouch(schema, key_field, datetime)
        self._datetime = datetime
        self._lines = lines  # for rows the types do not vouch for
        self._to_json: dict[Any, Any] = {}  # Arrow schema -> its JsonLines, made at its first batch

    def columns(self, rows: RowBatch) -> Columns | None:
        """The rows as Arrow arrays, each row's key and JSON value, where the types vouch for every one; else None."""
        vouched, keys = self._vouch.key_array(rows.batch)
        if not vouched:
            return None
        return Columns(keys, self._json(rows.batch).values(rows.batch), rows.first_line)

    def written(self, rows: RowBatch, avro: AvroColumns) -> tuple[Chunk, Parsed] | None:
        """The rows' values written as Avro a column at a time (``avrocolumns``), where the types vouch for every row
        and the writer takes every column; else None. The chunk holds the rows as JSON lines, for what reads a line
        back (a dead letter)."""
        vouched, keys = self._vouch.key_array(rows.batch)
        values = avro.encode(rows.batch) if vouched else None
        if values is None:
            return None
        columns = Columns(keys, values, rows.first_line)
        return self.text(rows), Parsed(columns.records())

    def text(self, rows: RowBatch) -> Chunk:
        """The rows as a chunk of JSON lines, its offsets counting rows."""
        batch = rows.batch
        data = self._json(batch).pieces(batch, batch.num_rows)[0] if batch.num_rows else b""
        return Chunk(rows.path, "jsonl", None, rows.first_line, rows.offset, data, rows.raw_bytes, rows.lines, rows.seq,
                     rows=True)  # fmt: skip

    def decode(self, rows: RowBatch, share: Share | None = None) -> tuple[Chunk, Parsed]:
        """The rows as a chunk of JSON lines (its offsets counting rows: what records, errors and dead letters refer
        to) and what it holds. ``share``: only the lines a run sending some partitions answers for (``Share``)."""
        batch = rows.batch
        text = self.text(rows)
        data = text.data
        keys = self._vouch(batch)
        if keys is None or not valid_utf8(data):  # Parquet's strings are not checked for UTF-8 as they are read
            return text, self._lines.decode(text, share)
        raws = data.split(b"\n")[: len(keys)]
        records = list(zip(keys, raws, range(rows.first_line, rows.first_line + len(raws)), strict=True))
        return text, Parsed(records if share is None else [r for r in records if share.sends(r[0], r[2])])

    def _json(self, batch: Any) -> Any:
        to_json = self._to_json.get(batch.schema)
        if to_json is None:
            from pump.decode.arrowjson import JsonLines

            to_json = self._to_json[batch.schema] = JsonLines(batch.schema, self._datetime)  # type: ignore[arg-type]
        return to_json
