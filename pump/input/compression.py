"""gzip (multi-member) and zstd (multi-frame) streams, recognised by their magic bytes."""

from __future__ import annotations

import zlib

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: What a damaged stream raises while being inflated.
DAMAGE = (zlib.error, zstandard.ZstdError, ValueError)


class Inflater:
    """Streams gzip or zstd, or passes plain bytes through, depending on the first bytes seen."""

    def __init__(self, magic: bytes) -> None:
        self.kind = "gzip" if magic.startswith(GZIP_MAGIC) else "zstd" if magic.startswith(ZSTD_MAGIC) else None
        self._obj: zlib._Decompress | zstandard.ZstdDecompressionObj | None = None
        self._in_member = False

    def _new(self) -> zlib._Decompress | zstandard.ZstdDecompressionObj:
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.kind is None:
            return data
        out = []
        while data:
            if self._obj is None:
                self._obj = self._new()
            out.append(self._obj.decompress(data))
            self._in_member = True
            if self._obj.eof:
                data = self._obj.unused_data
                self._obj = None
                self._in_member = False
            else:
                data = b""
        return b"".join(out)

    def finish(self) -> None:
        """Raise if the stream stopped in the middle of a gzip member or zstd frame."""
        if self.kind is not None and self._in_member:
            raise ValueError(f"truncated {self.kind} stream")
