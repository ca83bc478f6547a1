"""Checkpoint and resume: per input file, a fingerprint and the position up to which every line is handled.

The position is ``Completion``'s low-water mark (acknowledged or dead-lettered, never
in flight), so after a crash at any moment a resume loses nothing and re-sends at
most what was in flight. The file is replaced atomically (temp file, fsync, rename,
fsync of the directory); dead letters are made durable before it is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile

import msgspec

from pump.completion import Position
from pump.errors import UsageError
from pump.source import STDIN, InputFile

HEAD_BYTES = 64 << 10


class FileState(msgspec.Struct, kw_only=True):
    size: int
    mtime_ns: int
    head_sha256: str
    offset: int = 0
    line: int = 1
    done: bool = False

    def same_file(self, other: FileState) -> bool:
        return (self.size, self.mtime_ns, self.head_sha256) == (other.size, other.mtime_ns, other.head_sha256)


class State(msgspec.Struct, kw_only=True):
    version: int = 1
    topic: str
    files: dict[str, FileState] = msgspec.field(default_factory=dict)


def fingerprint(path: str) -> FileState:
    st = os.stat(path)
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
    return FileState(size=st.st_size, mtime_ns=st.st_mtime_ns, head_sha256=head)


class Checkpoint:
    def __init__(self, path: str, topic: str, restart: bool = False) -> None:
        self.path = path
        self.topic = topic
        self.restart = restart
        self.state = State(topic=topic)
        self._prints: dict[str, FileState] = {}

    def resume_points(self, files: list[InputFile]) -> dict[str, Position]:
        """Where each input starts, from the checkpoint file; refuses changed files unless ``restart``."""
        if any(f.path == STDIN for f in files):
            raise UsageError("--checkpoint cannot track stdin: give files")
        self._prints = {f.path: fingerprint(f.path) for f in files}
        previous = self._load()
        points: dict[str, Position] = {}
        for f in files:
            old = previous.files.get(os.path.abspath(f.path)) if previous else None
            if old is None or self.restart:
                continue
            if not old.same_file(self._prints[f.path]):
                raise UsageError(
                    f"{f.path}: changed since checkpoint {self.path} was written (size, mtime or first 64 KiB differ);"
                    " add --restart to replay it from the start"
                )
            points[f.path] = Position(old.offset, old.line, old.done)
        if previous is not None and not self.restart:
            self.state.files.update(previous.files)  # keep entries of files not named this time
        return points

    def _load(self) -> State | None:
        try:
            with open(self.path, "rb") as f:
                state = msgspec.json.decode(f.read(), type=State)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as exc:
            raise UsageError(f"--checkpoint {self.path}: unreadable ({exc}); remove it or pass --restart") from None
        if state.topic != self.topic and not self.restart:
            raise UsageError(f"--checkpoint {self.path} belongs to topic {state.topic!r}, not {self.topic!r}; add --restart")
        return state

    def save(self, positions: dict[str, Position]) -> None:
        for path, pos in positions.items():
            base = self._prints.get(path)
            if base is not None:
                self.state.files[os.path.abspath(path)] = msgspec.structs.replace(
                    base, offset=pos.offset, line=pos.line, done=pos.done
                )
        data = msgspec.json.format(msgspec.json.encode(self.state), indent=2)
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
