"""Inputs named by URL: ``s3://bucket/key``, and whatever else fsspec reads (``gs://``, ``az://``, ``https://``...).

Read through fsspec (the filesystem layer pandas, Dask and pyarrow use; its ``s3fs`` is the
S3 implementation most Python data tools share), in ranged reads of a few MiB: memory stays
bounded whatever the object's size, and a resume starts with a seek, not a download.
Credentials come from where each store's own tools look (for S3: ``$AWS_ACCESS_KEY_ID`` and
friends, ``~/.aws``, an instance or pod role; ``$AWS_ENDPOINT_URL`` for MinIO and other
S3-compatible stores), never from pump's flags, and never appear in its output: errors name
the URL and the store's answer only. The file API is blocking: callers run it on a thread.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from pump.errors import InputError, UsageError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_EXTRAS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}
BLOCK_BYTES = 4 << 20  # each ranged GET; a chunk of 1 MiB is read from this buffer


def is_url(name: str) -> bool:
    return bool(_SCHEME.match(name))


def _filesystem(url: str) -> tuple[Any, str]:
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec

        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError:  # fsspec itself, or the store's filesystem (fsspec says "Install s3fs to access S3")
        package = _EXTRAS.get(scheme, "fsspec")
        install = "'pump[s3]'" if package == "s3fs" else f"'pump[remote]' {package}" if package != "fsspec" else "'pump[remote]'"
        raise UsageError(f"{url}: reading {scheme}:// needs {package}: pip install {install}") from None
    except ValueError as exc:  # fsspec: "Protocol not known"
        raise UsageError(f"{url}: {exc}") from None


def _translate(url: str, exc: BaseException) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(url, "no such object (or bucket)")
    if isinstance(exc, PermissionError):
        return InputError(url, f"access denied ({_first_line(exc)})")
    return InputError(url, _first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def stat(url: str) -> tuple[int, int]:
    """The object's size and last modification (ns since the epoch; 0 if the store does not say)."""
    fs, path = _filesystem(url)
    try:
        info = fs.info(path)
    except Exception as exc:  # each store raises its own; the boundary says what it means, in one line
        raise _translate(url, exc) from None
    if info.get("type") == "directory":
        raise InputError(url, "is a directory (a prefix), not an object")
    modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
    return int(info["size"]), int(stamp * 1e9)


def open_binary(url: str) -> BinaryIO:
    """The object, for reading and seeking; reads fail as ``InputError`` naming the URL (see ``read``)."""
    fs, path = _filesystem(url)
    try:
        return fs.open(path, "rb", block_size=BLOCK_BYTES)  # type: ignore[no-any-return]
    except Exception as exc:
        raise _translate(url, exc) from None


def read(url: str, f: BinaryIO, n: int) -> bytes:
    try:
        return f.read(n)
    except Exception as exc:
        raise _translate(url, exc) from None
