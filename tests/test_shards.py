"""Shards: the pieces of N shards together are the input, exactly once, whatever N and wherever a bound falls."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pump import replay
from pump.dev.broker import Broker
from pump.errors import ConfigError
from pump.input import FileSource
from pump.input.files import line_start
from pump.input.shards import Input, Piece, parse_shard, plan
from pump.testing import MemoryCluster, Message
from tests.support import cli
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import consume, create_topic

EDGES = b'{"a":1}\n{"b":2}\r\n\n{"c":3}\r\n{"d":"x\\ny"}\n{"e":5}'  # CRLF, a blank line, no final newline


def lines_of(path: Path, start: int, end: int | None, chunk_bytes: int = 7) -> list[tuple[int, bytes]]:
    """(line number, text) of every line a shard reading ``[start, end)`` of ``path`` gets, as its chunks say."""

    source = FileSource(str(path), path.stat().st_size, "jsonl", line_start(str(path), start), end)

    async def read() -> list[tuple[int, bytes]]:
        out = []
        async for chunk in source.chunks(line_start(str(path), 0), chunk_bytes):
            body = chunk.data[:-1] if chunk.data.endswith(b"\n") else chunk.data
            out += [(chunk.first_line + i, text) for i, text in enumerate(body.split(b"\n"))]
        return out

    return asyncio.run(read())


@pytest.mark.parametrize("data", [EDGES, EDGES + b"\n", b"x\n", b"\n\n\n", b"no newline at all"])
def test_two_pieces_cut_at_every_byte_hold_every_line_once_with_its_number(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    whole = lines_of(path, 0, None)
    assert [text for _, text in whole] == data.removesuffix(b"\n").split(b"\n")
    for cut in range(len(data) + 1):  # on a newline, between CR and LF, inside a line, at both ends
        assert lines_of(path, 0, cut) + lines_of(path, cut, None) == whole, f"cut at byte {cut}"


def test_three_pieces_and_big_chunks_too(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(EDGES * 6)
    whole = lines_of(path, 0, None, 1 << 20)
    size = len(EDGES) * 6
    for a in range(0, size, 11):
        for b in range(a, size + 1, 17):
            got = lines_of(path, 0, a, 64) + lines_of(path, a, b, 1 << 20) + lines_of(path, b, None, 5)
            assert got == whole, (a, b)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5000), st.booleans()), min_size=1, max_size=8),
    st.integers(1, 12),
)
def test_the_plan_gives_every_byte_of_a_cut_file_and_every_whole_file_to_exactly_one_shard(
    files: list[tuple[int, bool]], shards: int
) -> None:
    inputs = [Input(f"f{i:02}", size, cuttable) for i, (size, cuttable) in enumerate(files)]
    pieces = plan(list(reversed(inputs)), shards)  # given in any order: planned by name
    assert len(pieces) == shards
    for item in inputs:
        mine = [(k, p) for k, ps in enumerate(pieces) for p in ps if p.path == item.path]
        if not item.cuttable or item.size == 0:
            assert [p for _, p in mine] == [Piece(item.path)]
            continue
        spans = [(p.start, item.size if p.end is None else p.end) for _, p in mine]
        assert spans[0][0] == 0 and spans[-1][1] == item.size
        assert all(a < b for a, b in spans) and all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
        assert [k for k, _ in mine] == sorted({k for k, _ in mine}), "one piece per shard, in shard order"
    for ps in pieces:  # a shard's pieces are in name order: a contiguous share
        assert [p.path for p in ps] == sorted(p.path for p in ps)


def test_shares_are_balanced_and_extra_shards_get_nothing() -> None:
    pieces = plan([Input("a.jsonl", 1000, True), Input("b.jsonl", 3000, True)], 4)
    assert pieces == [[Piece("a.jsonl", 0, None)], [Piece("b.jsonl", 0, 1000)], [Piece("b.jsonl", 1000, 2000)],
                      [Piece("b.jsonl", 2000, None)]]  # fmt: skip
    assert plan([Input("a.csv", 10, False), Input("b.csv", 10, False)], 5) == [[Piece("a.csv")], [], [Piece("b.csv")], [], []]


def test_the_shard_comes_as_i_of_n_or_from_an_indexed_jobs_environment() -> None:
    assert parse_shard("2/5", {}) == (2, 5)
    assert parse_shard("5", {"JOB_COMPLETION_INDEX": "3"}) == (3, 5)
    for bad in ("5/5", "-1/2", "a/b", "1/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad, {})
    with pytest.raises(ConfigError, match="JOB_COMPLETION_INDEX"):
        parse_shard("4", {})


@pytest.mark.integration
def test_n_shard_runs_of_one_command_send_every_record_once(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    big = keyed_lines(5000)  # cut into byte ranges
    write_lines(tmp_path / "a.jsonl", big[:2000])
    write_lines(tmp_path / "b.jsonl", big[2000:], final_newline=False)
    (tmp_path / "c.csv").write_text("user,seq\n" + "".join(f"v{i},{i}\n" for i in range(300)))  # never cut
    paths = [str(tmp_path / name) for name in ("c.csv", "b.jsonl", "a.jsonl")]
    create_topic(broker.bootstrap, topic_name, 3)
    shards = 4
    planned = json.loads(cli.pump("plan", "--shards", str(shards), "--json", *paths).stdout)
    assert [len(p) for p in planned["pieces"]] == [1, 2, 1, 2]  # b.jsonl is cut; c.csv goes whole to the last shard
    for index in range(shards):  # the index from an Indexed Job's environment, or given
        spec, env = (str(shards), {"JOB_COMPLETION_INDEX": str(index)}) if index % 2 else (f"{index}/{shards}", None)
        checkpoint = str(tmp_path / f"cp-{index}.json")
        proc = cli.pump("replay", *paths, "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user",
                        "--shard", spec, "--checkpoint", checkpoint, "--chunk-bytes", "4096", env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    csv_values = [msgspec.json.encode({"user": f"v{i}", "seq": str(i)}) for i in range(300)]
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic_name, 5300))
    assert got == collections.Counter(big + csv_values), "the shards together did not send every record exactly once"
    again = cli.pump("replay", *paths, "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user",
                     "--shard", "1/4", "--checkpoint", str(tmp_path / "cp-0.json"))  # fmt: skip
    assert again.returncode == 2 and "is of shard 0/4, this run is shard 1/4" in again.stderr.decode()


def test_a_cut_piece_names_lines_by_their_number_in_the_whole_file(tmp_path: Path) -> None:
    lines = keyed_lines(1000)
    lines[900] = b"{broken"  # line 901, in the second half of the file: shard 1 of 2 starts mid-file
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2)
    report = asyncio.run(replay(config(path, "t", key_field="user", shard="1/2"), cluster=cluster))
    sent = {m.value for m in cluster.messages("t")}
    assert 400 < report.records == len(sent) < 600 and lines[-1] in sent and lines[0] not in sent
    assert len(report.invalid_examples) == 1 and report.invalid_examples[0].startswith(f"{path}:901: JSON is malformed")


@pytest.mark.parametrize("processes", [0, pytest.param(2, marks=pytest.mark.integration)])  # 2: decode processes
def test_sharded_by_partition_each_run_sends_its_partitions_and_together_every_record_once_in_key_order(
    tmp_path: Path, processes: int
) -> None:
    lines = [b'{"user": "%s", "seq": %d}' % (b"" if i % 5 == 0 else b"u%d" % (i % 23), i) for i in range(3000)]
    lines[1234] = b'{"user": null, "seq": 1234}'  # no key: invalid, reported once (by shard 0)
    lines[2000] = b"not json"
    path = write_lines(tmp_path / "in.jsonl", lines)
    got: list[Message] = []
    invalid = []
    for index in range(3):
        cluster = MemoryCluster(partitions=4)
        cfg = config(path, "t", key_field="user", shard=f"{index}/3", shard_by="partition", chunk_bytes=2048,
                     decode_processes=processes)  # fmt: skip
        report = asyncio.run(replay(cfg, cluster=cluster))
        messages = cluster.messages("t")
        assert {m.partition for m in messages} <= {p for p in range(4) if p % 3 == index}
        assert report.records == report.acknowledged == len(messages)
        got += messages
        invalid.append(report.invalid)
    assert invalid == [2, 0, 0]
    expected = [line for i, line in enumerate(lines) if i not in (1234, 2000)]
    assert sorted(m.value for m in got) == sorted(expected), "every record once, over the three runs"
    assert b"" in in_key_order(got), "per-key order, the empty key too"
