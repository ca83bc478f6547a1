"""Inputs opened by name for blocking reads, local files or objects named by URL (``remote``), and the fingerprint
that tells a checkpoint whether an input is still the one it was."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import BinaryIO

import pump.input.remote as remote
from pump.input.source import Fingerprint

HEAD_BYTES = 64 << 10


@contextlib.contextmanager
def open_sync(name: str) -> Iterator[BinaryIO]:
    """A local file or an object named by URL, for blocking reads (fingerprints, shard plans, Parquet)."""
    with remote.open_binary(name) if remote.is_url(name) else open(name, "rb") as f:
        yield f


def fingerprint_of(name: str) -> Fingerprint:
    """A file's or an object's size, last modification and the SHA-256 of its first 64 KiB (blocking)."""
    size, mtime_ns = remote.stat(name) if remote.is_url(name) else _size_and_mtime(name)
    with open_sync(name) as f:
        head = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
    return Fingerprint(size=size, mtime_ns=mtime_ns, head_sha256=head)


def _size_and_mtime(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns
