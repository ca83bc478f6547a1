"""Inputs named as folders or globs, made the files they hold, by each input's own filesystem: the local one, or
fsspec's for a URL (``s3://bucket/2025/``, ``'s3://bucket/**/*.parquet'``).

- A folder: the files directly in it; with ``recursive``, every file under it.
- A glob: ``*`` and ``?`` within a name, ``[abc]``, and ``**`` for any depth (Python's ``glob`` locally, fsspec's for
  URLs).
- Each input's files in name order (the full path, as text), the inputs in the order given; a file matched twice in
  one input is read once.
- Skipped, as Hadoop's FileInputFormat and Spark skip them: names starting with ``.`` or ``_`` (hidden files,
  ``_SUCCESS``, ``_committed_*``, ``_temporary/``), and names ending ``.tmp``, ``.partial``, ``.crc`` (a file still
  being written). ``include`` (globs on the name): only what matches one, whatever the name; ``exclude``: never what
  matches one. A file named as itself is always read.
- A folder or glob with nothing to read is one line naming it (exit 2), before anything is sent.

Blocking (it lists folders and stores): called off the event loop, with the rest of the inputs' opening.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pump.errors import InputError
from pump.input.remote import filesystem, is_url, translate

STDIN = "-"
_GLOB = ("*", "?", "[")
_HIDDEN_PREFIXES = (".", "_")
_UNFINISHED = (".tmp", ".partial", ".crc")


class ListingFlags(Protocol):
    recursive: bool
    include: str | None
    exclude: str | None


@dataclass(frozen=True)
class Listing:
    """How a folder or glob becomes files: ``recursive`` into a folder's folders; ``include``/``exclude`` name globs."""

    recursive: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: ListingFlags) -> Listing:
        """As ``--recursive``, ``--include`` and ``--exclude`` say (the settings, or a command's parsed flags)."""
        return cls(settings.recursive, _globs(settings.include), _globs(settings.exclude))

    def takes(self, name: str) -> bool:
        """Whether a file found by listing, of this base name, is read."""
        if any(fnmatch.fnmatchcase(name, p) for p in self.exclude):
            return False
        if self.include:
            return any(fnmatch.fnmatchcase(name, p) for p in self.include)
        return not (name.startswith(_HIDDEN_PREFIXES) or name.endswith(_UNFINISHED))


def _globs(text: str | None) -> tuple[str, ...]:
    return tuple(g.strip() for g in text.split(",") if g.strip()) if text else ()


def is_pattern(path: str) -> bool:
    return any(c in path for c in _GLOB)


def expand(paths: Sequence[str], listing: Listing | None = None, empty_ok: bool = False) -> tuple[str, ...]:
    """Every input as the files it names, in order; a plain file (or stdin) as itself. ``empty_ok``: a folder or glob
    with nothing in it is none (``--watch``: files come later), not an error."""
    listing = listing or Listing()
    out: list[str] = []
    for path in paths:
        if path == STDIN:
            out.append(path)
            continue
        try:
            found = _remote(path, listing) if is_url(path) else _local(path, listing)
        except _Empty as empty:
            if not empty_ok:
                raise InputError(empty.named, empty.why) from None
            found = []
        out.extend(found if found is not None else [path])
    return tuple(out)


def _local(path: str, listing: Listing) -> list[str] | None:
    """The files a local folder or glob names (None: a plain path, opened as it is)."""
    if is_pattern(path) and not os.path.exists(path):
        root = _root(path)
        names = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p) and not _hidden_below(p, root)]
        return _chosen(path, names, listing, "matches no file")
    if not os.path.isdir(path):
        return None
    if listing.recursive:
        names = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(_HIDDEN_PREFIXES))
            names.extend(os.path.join(root, f) for f in files)
    else:
        names = [e.path for e in os.scandir(path) if e.is_file()]
    return _chosen(path, names, listing, "holds no file to read" + ("" if listing.recursive else " (--recursive?)"))


def _remote(url: str, listing: Listing) -> list[str] | None:
    """The objects a URL's prefix or glob names (None: one object)."""
    web = url.lower().startswith(("http://", "https://"))
    pattern = is_pattern(url.split("?", 1)[0]) if web else is_pattern(url)  # a web URL's ? starts its query
    if web and not pattern and not url.endswith("/"):
        return None  # a web server lists no folders (fsspec would download the page to look for links)
    fs, path = filesystem(url)
    try:
        if pattern:
            found, root = fs.glob(path, detail=True), _root(path)
        elif url.endswith("/") or fs.isdir(path):
            found, root = fs.find(path, maxdepth=None if listing.recursive else 1, detail=True), path.rstrip("/") + "/"
        else:
            return None
    except Exception as exc:  # each store raises its own; the boundary says what it means, in one line
        raise translate(url, exc) from None
    names = [fs.unstrip_protocol(name) for name, info in found.items() if info.get("type") != "directory"
             and not _hidden_below(name, root)]  # fmt: skip
    empty = "matches no object" if pattern else "holds no object to read" + ("" if listing.recursive else " (--recursive?)")
    return _chosen(url, names, listing, empty)


def _root(pattern: str) -> str:
    """The folder a glob starts from: its leading path without a glob character, ending with /."""
    parts = pattern.split("/")
    fixed = next((i for i, part in enumerate(parts) if is_pattern(part)), len(parts))
    return "/".join(parts[:fixed]) + "/" if fixed else ""


def _hidden_below(name: str, root: str) -> bool:
    """Whether a folder between ``root`` and the object is hidden (``_temporary/``, ``.staging/``)."""
    folders = name[len(root) :].split("/")[:-1] if name.startswith(root) else []
    return any(f.startswith(_HIDDEN_PREFIXES) for f in folders)


class _Empty(Exception):
    def __init__(self, named: str, why: str) -> None:
        self.named, self.why = named, why


def _chosen(named: str, names: Iterable[str], listing: Listing, empty: str) -> list[str]:
    chosen = sorted({n for n in names if listing.takes(n.rstrip("/").rsplit("/", 1)[-1])})
    if not chosen:
        raise _Empty(named, empty)
    return chosen
