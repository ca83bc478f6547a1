"""Following files and watching folders, as pure logic over real files: what a follower yields as a file grows, is
rotated, truncated or deleted; where it resumes from positions; which new files a watch takes; the refusals."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pump.account import Checkpoint
from pump.config import ReplayConfig
from pump.errors import ConfigError, InputError
from pump.input.follow import FileEvent, Follower, Item, LiveStats, identify
from pump.input.listing import Listing
from pump.input.live import LiveInput, position_key
from pump.input.source import Chunk, Position


class Collected:
    """A live stream's items, gathered by a task while the test changes the files."""

    def __init__(self, items: object) -> None:
        self.items: list[Item] = []
        self.task = asyncio.ensure_future(self._gather(items))

    async def _gather(self, items: object) -> None:
        async for item in items:  # type: ignore[attr-defined]
            self.items.append(item)

    def data(self) -> bytes:
        return b"".join(i.data for i in self.items if isinstance(i, Chunk))

    def events(self) -> list[tuple[str, str]]:
        return [(os.path.basename(i.path), i.kind) for i in self.items if isinstance(i, FileEvent)]

    async def until(self, condition: Callable[[], bool], within: float = 10) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if self.task.done():
                self.task.result()
            assert time.monotonic() < deadline, f"timed out; have {self.data()!r} {self.events()}"
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def follower(path: Path, stats: LiveStats | None = None, **kw: object) -> Follower:
    return Follower(str(path), "jsonl", None, None, stats or LiveStats(), **kw)  # type: ignore[arg-type]


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def unlink_then_write(path: Path, data: bytes) -> None:
    """Deletes ``path`` while a writer has it open, and writes ``data`` to the open file after its name is gone."""
    with open(path, "ab") as f:
        os.unlink(path)
        f.write(data)


async def test_whole_lines_are_read_as_they_are_appended_and_a_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n{"a":')
    got = Collected(follower(log).items())
    try:
        await got.until(lambda: got.data() == b'{"a":1}\n')
        await asyncio.sleep(0.2)
        assert got.data() == b'{"a":1}\n'  # the half line is not a record yet
        append(log, b'2}\n{"a":3}\n')
        await got.until(lambda: got.data() == b'{"a":1}\n{"a":2}\n{"a":3}\n')
        assert got.events() == [("app.log", "start")]
    finally:
        await got.stop()


async def test_a_file_renamed_away_is_finished_from_its_handle_and_the_new_one_followed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n')
    got = Collected(follower(log).items())
    try:
        await got.until(lambda: got.data() == b'{"a":1}\n')
        os.rename(log, tmp_path / "app.log.1")
        append(tmp_path / "app.log.1", b'{"a":2}\n{"a":3}')  # written after the rename; its last line has no newline
        log.write_bytes(b'{"b":1}\n')
        await got.until(lambda: got.data().endswith(b'{"b":1}\n'))
        assert got.data() == b'{"a":1}\n{"a":2}\n{"a":3}{"b":1}\n'
        assert got.events() == [("app.log", "start"), ("app.log", "end"), ("app.log", "start")]
        ends = [i for i in got.items if isinstance(i, FileEvent)]
        assert ends[0].file != ends[2].file  # the positions of each are in its own file
    finally:
        await got.stop()


async def test_a_truncated_file_is_read_again_from_its_start_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n{"a":2}\n')
    stats = LiveStats()
    got = Collected(follower(log, stats).items())
    try:
        await got.until(lambda: got.data().count(b"\n") == 2)
        os.truncate(log, 0)
        await got.until(lambda: stats.truncated == 1)
        append(log, b'{"c":1}\n')
        await got.until(lambda: got.data().endswith(b'{"c":1}\n'))
        chunks = [i for i in got.items if isinstance(i, Chunk)]
        assert (chunks[-1].offset, chunks[-1].first_line) == (0, 1)
    finally:
        await got.stop()


async def test_a_deleted_file_is_finished_and_its_name_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n')
    stats = LiveStats()
    got = Collected(follower(log, stats).items())
    try:
        await got.until(lambda: got.data() == b'{"a":1}\n')
        unlink_then_write(log, b'{"a":2}\n')
        await got.until(lambda: stats.finished == 1)
        log.write_bytes(b'{"n":1}\n')
        await got.until(lambda: got.data() == b'{"a":1}\n{"a":2}\n{"n":1}\n')
    finally:
        await got.stop()


def live(tmp_path: Path, *paths: Path, **kw: object) -> LiveInput:
    return LiveInput(tuple(str(p) for p in paths), Listing(), **{"follow": True, "watch": False, **kw})  # type: ignore[arg-type]


async def test_a_followed_file_resumes_where_its_own_positions_are_and_a_rotated_one_is_finished_first(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n{"a":2}\n')
    fd = os.open(log, os.O_RDONLY)
    file = identify(fd)
    os.close(fd)
    previous = {position_key(str(log)): Position(8, 2, file=file)}
    same = live(tmp_path, log, previous=previous)
    got = Collected(same.items())
    try:
        await got.until(lambda: got.data() == b'{"a":2}\n')
    finally:
        await got.stop()
    os.rename(log, tmp_path / "app.log.1")  # rotated while pump was stopped
    log.write_bytes(b'{"b":1}\n')
    rotated = live(tmp_path, log, previous=previous)
    got = Collected(rotated.items())
    try:
        await got.until(lambda: got.data() == b'{"a":2}\n{"b":1}\n')
        assert got.events() == [("app.log.1", "start"), ("app.log.1", "end"), ("app.log", "start")]
    finally:
        await got.stop()


async def test_a_quiet_live_input_ends_after_idle_exit(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n')
    started = time.monotonic()
    items = [item async for item in live(tmp_path, log, idle_exit=0.3).items()]
    assert 0.3 <= time.monotonic() - started < 5
    assert [type(i).__name__ for i in items] == ["FileEvent", "Chunk"]


async def test_a_watched_folder_takes_new_files_in_name_order_once_each_and_never_a_temporary_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "01.jsonl").write_bytes(b'{"f":1}\n')
    watch = LiveInput((str(tmp_path),), Listing(), follow=False, watch=True, poll_interval=0.05)
    got = Collected(watch.items())
    try:
        await got.until(lambda: ("01.jsonl", "end") in got.events())
        (tmp_path / "03.jsonl.tmp").write_bytes(b'{"f":3}\n')
        (tmp_path / "_SUCCESS").write_bytes(b"")
        (tmp_path / "02.jsonl").write_bytes(b'{"f":2}\n')
        await got.until(lambda: ("02.jsonl", "end") in got.events())
        os.rename(tmp_path / "03.jsonl.tmp", tmp_path / "03.jsonl")
        await got.until(lambda: ("03.jsonl", "end") in got.events())
        await asyncio.sleep(0.2)
        assert got.data() == b'{"f":1}\n{"f":2}\n{"f":3}\n'
    finally:
        await got.stop()


def test_settle_takes_a_new_file_once_it_has_held_still_and_holds_back_those_after_it(tmp_path: Path) -> None:
    watch = LiveInput((str(tmp_path),), Listing(), follow=False, watch=True, settle=0.2)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"1\n")
    b.write_bytes(b"2\n")
    assert watch._settled([str(a), str(b)]) == []  # first seen
    append(a, b"3\n")
    time.sleep(0.25)
    assert watch._settled([str(a), str(b)]) == []  # a changed: seen again
    time.sleep(0.25)
    assert watch._settled([str(a), str(b)]) == [str(a)]  # b was first seen only now (a held it back)


def test_what_cannot_be_followed_or_watched_is_refused_in_one_line(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"{}\n")
    with pytest.raises(ConfigError, match="stdin"):
        ReplayConfig.of("-", "t", follow=True)
    with pytest.raises(ConfigError, match="settle"):
        ReplayConfig.of(str(one), "t", settle=1.0)
    with pytest.raises(ConfigError, match="one process"):
        ReplayConfig.of(str(one), "t", watch=True, shard="0/2")
    with pytest.raises(InputError, match="not a folder or glob"):
        LiveInput((str(one),), Listing(), follow=False, watch=True).check()
    with pytest.raises(InputError, match="cannot be followed"):
        LiveInput(("s3://bucket/x.jsonl",), Listing(), follow=True, watch=False).check()
    (tmp_path / "empty").mkdir()
    assert LiveInput((str(tmp_path / "empty"),), Listing(), follow=False, watch=True).check() == []  # files come later


def test_a_checkpoint_keeps_a_followed_files_identity_and_gives_it_back(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n')
    fd = os.open(log, os.O_RDONLY)
    file = identify(fd)
    os.close(fd)
    cp = Checkpoint(str(tmp_path / "cp.json"), "t")
    assert cp.followed() == {}
    cp.save({str(log): Position(8, 2, file=file)})
    found = Checkpoint(str(tmp_path / "cp.json"), "t").followed()[str(log)]
    assert (found.offset, found.line, found.file) == (8, 2, file)


async def test_verify_refuses_live_inputs_in_one_line(tmp_path: Path) -> None:
    from pump.verify import verify

    (tmp_path / "a.jsonl").write_bytes(b"{}\n")
    with pytest.raises(ConfigError, match="verify compares a topic with inputs read to their ends"):
        await verify(ReplayConfig.of(str(tmp_path / "a.jsonl"), "t", follow=True, bootstrap_servers="localhost:1"))
