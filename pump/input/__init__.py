"""Stage 1, input: where bytes come from, cut into chunks of whole records.

A ``Source`` is one input (today a local file or stdin: ``files.FileSource``); a new
kind of input (a URL, a Parquet file) is a new class with the same three members.
``open_sources`` turns what the user named into sources, failing before anything is
sent when one cannot be read.
"""

from pump.input.files import FileSource, open_sources, shard_sources
from pump.input.source import Chunk, Fingerprint, Position, RecordFormat, Source

__all__ = ("Chunk", "FileSource", "Fingerprint", "Position", "RecordFormat", "Source", "open_sources", "shard_sources")
