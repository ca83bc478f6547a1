"""The checkpoint's low-water mark: only a contiguous prefix of fully handled chunks moves it."""

from __future__ import annotations

import random

from pump.account import Completion
from pump.input import Chunk, Position
from tests.support.builders import chunk as build


def chunk(seq: int, path: str, offset: int, first_line: int, data: bytes) -> Chunk:
    return build(data, seq=seq, path=path, offset=offset, first_line=first_line)


def test_position_moves_only_over_a_contiguous_handled_prefix() -> None:
    c = Completion()
    a, b, d = chunk(0, "f", 0, 1, b"1\n2\n"), chunk(1, "f", 4, 3, b"3\n"), chunk(2, "f", 6, 4, b"4\n5\n")
    for x in (a, b, d):
        c.read(x)
    c.decoded(0, 2)
    c.decoded(1, 1)
    c.decoded(2, 0)  # a chunk of only invalid/blank lines
    c.settled(1, 1)
    assert "f" not in c.positions  # chunk 0 still in flight
    c.settled(0, 1)
    assert "f" not in c.positions
    c.settled(0, 1)
    assert c.positions["f"] == Position(10, 6)  # all three handled
    c.file_done("f")
    assert c.positions["f"] == Position(10, 6, done=True)


def test_random_settlement_order_never_overtakes_an_unhandled_chunk() -> None:
    rnd = random.Random(7)
    c = Completion()
    chunks = [chunk(i, "f", i * 10, i * 5 + 1, b"x\n" * 5) for i in range(50)]
    pending = []
    for ch in chunks:
        c.read(ch)
        c.decoded(ch.seq, 5)
        pending += [ch.seq] * 5
    rnd.shuffle(pending)
    left = {ch.seq: 5 for ch in chunks}
    for seq in pending:
        c.settled(seq, 1)
        left[seq] -= 1
        first_open = min((s for s, n in left.items() if n), default=None)
        expected_end = 500 if first_open is None else first_open * 10
        assert c.positions.get("f", Position(0, 1)).offset == expected_end


def test_empty_file_is_done_at_once_and_files_complete_in_order() -> None:
    c = Completion()
    c.file_done("empty")
    assert c.positions["empty"] == Position(0, 1, done=True)
    c.read(chunk(0, "a", 0, 1, b"1\n"))
    c.file_done("a")
    c.read(chunk(1, "b", 0, 1, b"1\n"))
    c.decoded(1, 1)
    c.settled(1, 1)
    assert "b" not in c.positions and "a" not in c.positions  # "a" not handled yet, so "b" cannot be either
    c.decoded(0, 0)
    assert c.positions["a"].done and c.positions["b"] == Position(2, 2)


def test_resumed_positions_stand_until_this_run_moves_them() -> None:
    c = Completion({"a": Position(40, 9), "b": Position(0, 1), "done": Position(70, 12, done=True)})
    assert c.positions == {"a": Position(40, 9), "done": Position(70, 12, done=True)}  # "b" starts at the start
    c.read(chunk(0, "a", 40, 9, b"x\n"))
    c.decoded(0, 1)
    assert c.positions["a"] == Position(40, 9)
    c.settled(0, 1)
    assert c.positions["a"] == Position(42, 10)
