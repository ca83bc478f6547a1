"""Checkpoint and resume: per input, a fingerprint and the position up to which every line is handled.

A replay in N processes (``--processes``) keeps one file with N parts: each process owns
some partitions and reaches its own position in every input, so each resumes from its
own; the file names the count, and a resume with another count is refused.

The position is ``Completion``'s low-water mark (acknowledged or dead-lettered, never in
flight), so after a crash at any moment a resume loses nothing and re-sends at most what
was in flight. The file is replaced atomically (temp file, fsync, rename, fsync of the
directory); dead letters are made durable before it is written. Every method here does
blocking file work: callers run them on a thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence

import msgspec

from pump.config import config_error, verbatim
from pump.input import Fingerprint, Position, Source
from pump.input.remote import is_url
from pump.input.source import FileId


def _key(name: str) -> str:
    """An input's name in the file: a local path made absolute (the run may start elsewhere), a URL as it is."""
    return name if is_url(name) else os.path.abspath(name)


class FileState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An input's position, and what it was a position in: its size, modification time and first 64 KiB's hash; or,
    for a followed file (``--follow``, ``--watch``: it grows), its device, inode and first ``head_bytes``' hash."""

    size: int = 0
    mtime_ns: int = 0
    head_sha256: str
    offset: int = 0
    line: int = 1
    done: bool = False
    dev: int | None = None
    inode: int | None = None
    head_bytes: int | None = None

    @property
    def file(self) -> FileId | None:
        """The followed file it is a position in (None: a file read once, known by its fingerprint)."""
        if self.dev is None or self.inode is None or self.head_bytes is None:
            return None
        return FileId(dev=self.dev, inode=self.inode, head_bytes=self.head_bytes, head_sha256=self.head_sha256)

    def same_content(self, print_: Fingerprint) -> bool:
        return (self.size, self.mtime_ns, self.head_sha256) == (print_.size, print_.mtime_ns, print_.head_sha256)


class State(msgspec.Struct, kw_only=True, omit_defaults=True):
    version: int = 1
    topic: str
    shard: str | None = None  # the --shard this checkpoint is of: another shard's positions mean other pieces
    files: dict[str, FileState] = msgspec.field(default_factory=dict)
    processes: int = 1
    parts: list[dict[str, FileState]] = msgspec.field(default_factory=list)  # with processes > 1: each one's files
    dead_letter_bytes: int | None = None  # exactly once: the dead-letter file's size when these positions were committed


class Checkpoint:
    """Positions kept in a file at ``path``; or, with ``path`` None, positions ``loaded`` from elsewhere (the positions
    topic of ``--exactly-once``: ``where`` names it in messages), which this only checks and records."""

    def __init__(
        self,
        path: str | None,
        topic: str,
        restart: bool = False,
        shard: str | None = None,
        processes: int = 1,
        *,
        loaded: State | None = None,
        where: str | None = None,
    ) -> None:
        self.path = path
        self.topic = topic
        self.restart = restart
        self.shard = shard
        self.processes = processes
        self.loaded = loaded
        self.where = where or f"{{checkpoint}} {verbatim(path)}"
        self.state = State(
            topic=topic, shard=shard, processes=processes, parts=[{} for _ in range(processes)] if processes > 1 else []
        )
        self._prints: dict[str, Fingerprint] = {}

    def resume_parts(self, sources: Sequence[Source]) -> list[dict[str, Position]]:
        """Where each process's inputs start: one ``resume_points`` per process (a list of one without processes)."""
        previous = self._fingerprint(sources)
        if self.processes == 1:
            return [self._points(sources, previous.files if previous else {}, self.state.files)]
        old_parts = previous.parts if previous else []
        return [
            self._points(sources, old_parts[i] if i < len(old_parts) else {}, part) for i, part in enumerate(self.state.parts)
        ]

    def resume_points(self, sources: Sequence[Source]) -> dict[str, Position]:
        """Where each input starts, from the checkpoint file; refuses changed inputs unless ``restart``."""
        return self.resume_parts(sources)[0]

    def _fingerprint(self, sources: Sequence[Source]) -> State | None:
        for source in sources:
            fingerprint = source.fingerprint()
            if fingerprint is None:
                raise config_error(f"{self.where} cannot track {verbatim(repr(source.name))} (stdin or a pipe): give files")
            self._prints[source.name] = fingerprint
        return self._load()

    def _points(
        self, sources: Sequence[Source], previous: dict[str, FileState], kept: dict[str, FileState]
    ) -> dict[str, Position]:
        points: dict[str, Position] = {}
        for source in sources:
            old = previous.get(_key(source.name))
            if old is None or self.restart:
                continue
            if not old.same_content(self._prints[source.name]):
                raise config_error(
                    f"{verbatim(source.name)}: changed since {self.where} was written"
                    " (size, mtime or first 64 KiB differ); add {restart} to replay it from the start"
                )
            points[source.name] = Position(old.offset, old.line, old.done)
        if not self.restart:
            kept.update(previous)  # keep entries of inputs not named this time
        return points

    def followed(self) -> dict[str, FileState]:
        """``--follow``, ``--watch``: the positions kept of every file (by absolute path, a URL as it is), for the
        inputs to match with the files they find; refused as ``resume_parts`` refuses another run's. Nothing with
        ``restart``."""
        previous = self._load()
        if previous is None or self.restart:
            return {}
        self.state.files.update(previous.files)  # kept for the files not seen this time
        return dict(previous.files)

    def _load(self) -> State | None:
        state = self.loaded if self.path is None else self._read()
        if state is not None and not self.restart:
            self._check(state)
        return state

    def _read(self) -> State | None:
        assert self.path is not None
        try:
            with open(self.path, "rb") as f:
                return msgspec.json.decode(f.read(), type=State)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as exc:
            raise config_error(f"{self.where}: unreadable ({verbatim(exc)}); remove it or add {{restart}}") from None

    def _check(self, state: State) -> None:
        """Positions of another topic, shard or process count are not this run's: refused, each in one line."""
        if state.topic != self.topic:
            raise config_error(
                f"{self.where} belongs to topic {verbatim(repr(state.topic))}, not {verbatim(repr(self.topic))}; add {{restart}}"
            )
        if state.shard != self.shard:
            theirs, ours = (f"shard {s}" if s else "no shard" for s in (state.shard, self.shard))
            raise config_error(
                f"{self.where} is of {verbatim(theirs)}, this run is {verbatim(ours)}: their pieces do not line up;"
                " give each shard its own, or add {restart}"
            )
        if state.processes != self.processes:
            raise config_error(
                f"{self.where} was written by a replay in {state.processes} process(es), this one runs {self.processes}:"
                f" each process resumes from its own positions, so give {{processes}} {state.processes}, or add {{restart}}"
            )

    def save(self, positions: dict[str, Position], part: int = 0) -> None:
        """Records ``positions`` (of process ``part``, with processes) and replaces the file."""
        self.record(positions, part)
        self.write()

    def record(self, positions: dict[str, Position], part: int = 0) -> None:
        """Takes ``positions`` (of process ``part``, with processes) into the state ``write`` writes."""
        files = self.state.parts[part] if self.processes > 1 else self.state.files
        for path, pos in positions.items():
            if pos.file is not None:
                f = pos.file
                files[_key(path)] = FileState(head_sha256=f.head_sha256, offset=pos.offset, line=pos.line, done=pos.done,
                                              dev=f.dev, inode=f.inode, head_bytes=f.head_bytes)  # fmt: skip
                continue
            base = self._prints.get(path)
            if base is not None:
                files[_key(path)] = FileState(
                    size=base.size, mtime_ns=base.mtime_ns, head_sha256=base.head_sha256,
                    offset=pos.offset, line=pos.line, done=pos.done,
                )  # fmt: skip

    def encoded(self) -> bytes:
        """The state as it is written: JSON."""
        return msgspec.json.format(msgspec.json.encode(self.state), indent=2)

    def write(self) -> None:
        """Replaces the file with the state, atomically and durably."""
        assert self.path is not None
        data = self.encoded()
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".pump-checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
