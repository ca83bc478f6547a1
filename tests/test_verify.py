"""``pump verify``'s logic, on the in-memory cluster: the expected side is what a replay sends, and each way a topic
can differ from the inputs is found and named with its input line."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pump import replay
from pump.decode import java_partition
from pump.dev.broker import Broker
from pump.output.memory import Message
from pump.testing import MemoryCluster
from pump.verify import Read, check
from pump.verify.compare import Findings, compare
from pump.verify.digest import Detail, Digests, differing
from pump.verify.expected import expect
from tests.support import cli
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.kafka import consume, create_topic, produce

PARTITIONS = 4


def reading(messages: list[Message]) -> Read:
    async def read() -> AsyncIterator[list[tuple[int, int, bytes | None, bytes]]]:
        yield [(m.partition, m.offset, m.key, m.value) for m in messages]

    return read


async def replayed(path: Path, **settings: object) -> list[Message]:
    cluster = MemoryCluster(partitions=PARTITIONS)
    await replay(config(path, "t", **settings), cluster=cluster)
    return cluster.messages("t")


def moved(m: Message, partition: int, offset: int | None = None) -> Message:
    return Message(m.topic, partition, m.offset if offset is None else offset, m.key, m.value)


@pytest.mark.parametrize("settings", [{"key_field": "user"}, {}, {"key_field": "user", "max_message_bytes": 27}])
async def test_the_expected_side_is_what_a_replay_sends(tmp_path: Path, settings: dict[str, object]) -> None:
    path = write_lines(tmp_path / "in.jsonl", [*keyed_lines(2000), b"not json"])
    expected, found = Digests(PARTITIONS), Digests(PARTITIONS)
    report = await expect(config(path, "t", **settings), expected, PARTITIONS, None)
    found.found([(m.partition, m.offset, m.key, m.value) for m in await replayed(path, **settings)])
    assert differing(expected, found) == ([], [], False)
    assert report.invalid == 1 and expected.total() == report.acknowledged == 2000 - report.failed


async def test_an_exact_topic_passes_in_one_pass(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(3000))
    messages = await replayed(path, key_field="user")
    report = await check(config(path, "t", key_field="user"), PARTITIONS, None, reading(messages))
    assert report.exact and report.exit_code == 0 and report.passes == 1
    assert (report.expected, report.found) == (3000, 3000)
    assert "OK: every record expected is in the topic once" in report.to_text()


async def test_every_kind_of_difference_is_found_with_its_input_line(tmp_path: Path) -> None:
    lines = keyed_lines(1000, keys=7)
    path = write_lines(tmp_path / "in.jsonl", lines)
    messages = await replayed(path, key_field="user")
    by_seq = {int(m.value.split(b'"seq": ')[1].rstrip(b"}")): m for m in messages}
    dropped, twice, misplaced = by_seq[4], by_seq[19], by_seq[39]  # lines 5, 20 and 40
    first, later = by_seq[100], by_seq[107]  # the same key (seq % 7), lines 101 and 108
    damaged = [later if m is first else first if m is later else m for m in messages]  # 108 read before 101
    damaged = [m for m in damaged if m not in (dropped, misplaced)]
    wrong = (java_partition(misplaced.key or b"", PARTITIONS) + 1) % PARTITIONS
    damaged += [
        moved(twice, twice.partition, 10_000),
        moved(misplaced, wrong, 10_003),
        Message("t", 0, 10_004, b"stranger", b"{}"),
    ]
    report = await check(config(path, "t", key_field="user"), PARTITIONS, None, reading(damaged))
    assert report.exit_code == 1
    counts = (report.missing, report.duplicated, report.unexpected, report.wrong_partition, report.reordered_keys)
    assert counts == (1, 1, 1, 1, 1), report.to_text()
    name = str(path)
    assert report.examples["missing"] == [f"{name}:5 (key 'u4', partition {dropped.partition})"]
    assert report.examples["duplicated"] == [f"{name}:20 again at partition {twice.partition} offset 10000"]
    assert report.examples["wrong_partition"] == [f"{name}:40 at partition {wrong} offset 10003, not {misplaced.partition}"]
    assert report.examples["reordered_keys"] == [f"key 'u2': {name}:101 found after {name}:108"]
    assert report.examples["unexpected"] == ["partition 0 offset 10004 (key 'stranger')"]
    assert report.passes == 2
    text = report.to_text()
    assert "MISMATCH" in text and f"missing   1 record, e.g. {name}:5" in text


async def test_records_without_a_key_are_checked_as_one_set_anywhere(tmp_path: Path) -> None:
    lines = keyed_lines(500)
    path = write_lines(tmp_path / "in.jsonl", lines)
    messages = await replayed(path)
    shuffled = [moved(m, (m.partition + 1) % PARTITIONS) for m in reversed(messages)]
    assert (await check(config(path, "t"), PARTITIONS, None, reading(shuffled))).exact
    report = await check(config(path, "t"), PARTITIONS, None, reading(shuffled[1:]))
    assert (report.missing, report.wrong_partition, report.reordered_keys) == (1, 0, 0)


def test_a_detailed_pass_holds_only_its_bucket_of_keys() -> None:
    records = [(b"k%d" % i, b"v%d" % i, i + 1) for i in range(400)]
    kept = 0
    for bucket in range(4):
        detail = Detail([0, 1], keyless=False, buckets=4, bucket=bucket)
        detail.expected(records, 0, "in")
        kept += sum(len(v) for v in detail.keys.values())
        assert 40 < sum(len(v) for v in detail.keys.values()) < 160
    assert kept == 400
    other = Detail([1], keyless=False, buckets=1, bucket=0)
    other.expected(records, 0, "in")
    assert other.keys == {}, "a partition not chosen is not held"


def test_a_key_whose_records_are_found_in_order_is_not_reordered_by_a_duplicate() -> None:
    want, got = Detail([0], False, 1, 0), Detail([0], False, 1, 0)
    want.expected([(b"k", b"a", 1), (b"k", b"b", 2), (b"k", b"c", 3)], 0, "in")
    got.found([(0, 0, b"k", b"a"), (0, 1, b"k", b"b"), (0, 2, b"k", b"a"), (0, 3, b"k", b"c")])
    findings = Findings()
    compare(want, got, findings)
    assert (findings.duplicated, findings.reordered_keys, findings.missing) == (1, 0, 0)


def test_verify_on_a_broker_names_what_is_missing_twice_and_unexpected(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    lines = keyed_lines(2000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    common = [str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user"]
    assert cli.pump("replay", *common, "--limit", "1500").returncode == 0
    assert cli.pump("replay", *common, "--limit", "10").returncode == 0  # the first ten lines twice
    produce(broker.bootstrap, topic_name, [(1, b"stranger", b"{}")])
    report = tmp_path / "v.json"
    proc = cli.pump("verify", *common, "--report-json", str(report))
    assert proc.returncode == 1, proc.stdout.decode() + proc.stderr.decode()
    got = cli.report_of(report)
    assert (got["expected"], got["found"], got["missing"], got["duplicated"], got["unexpected"]) == (2000, 1511, 500, 10, 1)
    assert (got["wrong_partition"], got["reordered_keys"], got["exact"]) == (0, 0, False)
    text = proc.stdout.decode()
    assert f"  missing   500 records, e.g. {path}:1501 (key 'u20'," in text, text
    assert "  unexpected 1 record, e.g. partition 1 offset " in text, text


def test_verify_from_offsets_reads_only_what_came_after_them(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(1000))
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    common = [str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user"]
    assert cli.pump("replay", *common, "--limit", "100").returncode == 0  # an earlier replay the topic still holds
    before = collections.Counter[int]()
    for m in consume(broker.bootstrap, topic_name, 100):  # (Tansu's end offsets are its last batch's first offset)
        before[m.partition] = max(before[m.partition], m.offset + 1)
    assert cli.pump("replay", *common).returncode == 0
    whole = cli.pump("verify", *common)
    assert whole.returncode == 1 and "twice     100 records" in whole.stdout.decode(), whole.stdout.decode()
    since = cli.pump("verify", *common, "--from-offsets", ",".join(f"{p}:{o}" for p, o in before.items()))
    assert since.returncode == 0, since.stdout.decode() + since.stderr.decode()
    assert "from the offsets given" in since.stdout.decode()
