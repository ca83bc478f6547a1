"""Inputs named by URL: ``s3://bucket/key``, ``https://...``, and whatever else fsspec reads (``gs://``, ``az://``...).

Read through fsspec (the filesystem layer pandas, Dask and pyarrow use; its ``s3fs`` is the
S3 implementation most Python data tools share, and its HTTP filesystem is built on aiohttp,
which s3fs already brings), in ranged reads of a few MiB: memory stays bounded whatever the
object's size, a resume starts with a seek, not a download, and Parquet's footer is read
where it is, at the end. A server without ranges is streamed.
Credentials come from where each store's own tools look (for S3: ``$AWS_ACCESS_KEY_ID`` and
friends, ``~/.aws``, an instance or pod role; ``$AWS_ENDPOINT_URL`` for MinIO and other
S3-compatible stores), never from pump's flags, and never appear in its output: errors name
the URL and the store's answer only. The file API is blocking: callers run it on a thread.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import time
from typing import Any

from pump.errors import InputError, UsageError, first_line

_log = logging.getLogger("pump.input")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: scheme -> (the package fsspec needs for it, how to install it)
_NEEDS = {
    "s3": ("s3fs", "'pump[s3]'"), "s3a": ("s3fs", "'pump[s3]'"), "http": ("aiohttp", "'pump[http]'"),
    "https": ("aiohttp", "'pump[http]'"), "gs": ("gcsfs", "'pump[remote]' gcsfs"), "gcs": ("gcsfs", "'pump[remote]' gcsfs"),
    "az": ("adlfs", "'pump[remote]' adlfs"), "abfs": ("adlfs", "'pump[remote]' adlfs"),
}  # fmt: skip
BLOCK_BYTES = 4 << 20  # each ranged GET; a chunk of 1 MiB is read from this buffer


def is_url(name: str) -> bool:
    return bool(_SCHEME.match(name))


def filesystem(url: str) -> tuple[Any, str]:
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec

        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError:  # fsspec itself, or the store's filesystem (fsspec says "Install s3fs to access S3")
        package, install = _NEEDS.get(scheme, ("fsspec", "'pump[remote]'"))
        raise UsageError(f"{url}: reading {scheme}:// needs {package}: pip install {install}") from None
    except ValueError as exc:  # fsspec: "Protocol not known"
        raise UsageError(f"{url}: {exc}") from None


def translate(url: str, exc: BaseException) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(url, "not found (HTTP 404)" if url.lower().startswith("http") else "no such object (or bucket)")
    if isinstance(exc, PermissionError):
        return InputError(url, f"access denied ({first_line(exc)})")
    return InputError(url, first_line(exc))


def stat(url: str) -> tuple[int, int]:
    """The object's size and last modification (ns since the epoch; 0 if the store does not say)."""
    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except Exception as exc:  # each store raises its own; the boundary says what it means, in one line
        raise translate(url, exc) from None
    if info.get("type") == "directory":
        raise InputError(url, "is a directory (a prefix), not an object")
    if info.get("size") is None:
        raise InputError(url, "the server does not say how long it is (no Content-Length): download it first")
    return int(info["size"]), _modified_ns(info)


def _modified_ns(info: dict[str, Any]) -> int:
    modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified") or info.get("Last-Modified")
    if isinstance(modified, str):  # an HTTP date
        try:
            modified = email.utils.parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            return 0
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
    return int(stamp * 1e9)


def open_binary(url: str) -> RemoteFile:
    """The object, for reading (and seeking, where the store takes ranged reads: S3 does, some HTTP servers not)."""
    return RemoteFile(url)


class RemoteFile:
    """An object read through fsspec, with the reads a network needs: a read that fails on the way (a dropped
    connection, a timeout) is tried again from the byte it started at, up to ``ATTEMPTS`` times with a growing
    pause; a missing object or a refusal is not. Where the store cannot seek (an HTTP server without ranges),
    trying again means reading from the start and skipping to that byte. Nothing is read twice into a chunk."""

    ATTEMPTS = 5
    PAUSE = 0.5

    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._path = filesystem(url)
        self._f = self._open()
        self._pos = 0

    def _open(self) -> Any:
        try:
            return self._fs.open(self._path, "rb", block_size=BLOCK_BYTES)
        except Exception as exc:
            raise translate(self.url, exc) from None

    def seekable(self) -> bool:
        return bool(self._f.seekable())

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = self._f.seek(offset, whence)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        for attempt in range(self.ATTEMPTS):
            try:
                data: bytes = self._f.read(n)
            except (FileNotFoundError, PermissionError) as exc:
                raise translate(self.url, exc) from None
            except Exception as exc:  # the network's: aiohttp's, botocore's, OSError, timeouts
                if attempt == self.ATTEMPTS - 1:
                    raise InputError(
                        self.url, f"read failed {self.ATTEMPTS} times at byte {self._pos:,}: {first_line(exc)}"
                    ) from None
                _log.warning("%s: read failed at byte %d (%s); trying again", self.url, self._pos, first_line(exc))
                time.sleep(self.PAUSE * 2**attempt)
                self._reopen()
                continue
            self._pos += len(data)
            return data
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        """The file again, at the byte reached: seeking where it can, else reading up to it."""
        with contextlib.suppress(Exception):  # the old connection is broken: closing it may fail too
            self._f.close()
        self._f = self._open()
        if self._f.seekable():
            self._f.seek(self._pos)
            return
        left = self._pos
        while left > 0:
            skipped = self._f.read(min(left, BLOCK_BYTES))
            if not skipped:
                raise InputError(self.url, f"shorter than before: it ended at byte {self._pos - left:,}")
            left -= len(skipped)

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return bool(self._f.closed)

    def __enter__(self) -> RemoteFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
