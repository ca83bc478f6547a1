"""``--exactly-once`` on the in-memory cluster: records and their positions committed together, a resume from the
committed positions, an aborted transaction sent again, and the settings it refuses."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import msgspec
import pytest

from pump import ConfigError, replay
from pump.account.checkpoint import State
from pump.account.positions import job_of, laid_out_otherwise, member_of
from pump.testing import MemoryCluster
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.checks import in_key_order


@pytest.fixture(autouse=True)
def _no_pause_after_an_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pump.runner.exactly.ABORT_PAUSE", 0.0)


def exactly_once(path: Path, **settings: object) -> object:
    settings.setdefault("key_field", "user")
    settings.setdefault("transaction_records", 500)
    settings.setdefault("chunk_bytes", 2048)
    return config(path, "t", exactly_once=True, **settings)


async def test_every_record_is_committed_once_with_the_position_it_reaches(tmp_path: Path) -> None:
    lines = keyed_lines(3000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=4)
    report = await replay(exactly_once(path), cluster=cluster)
    got = cluster.messages("t")
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    in_key_order(got, 4)
    assert report.exit_code == 0 and report.exactly_once is not None
    assert report.exactly_once.committed == cluster.commits >= 3000 // 500  # and the start's, committed first
    member = member_of(job_of(exactly_once(path)), None, None)  # type: ignore[arg-type]
    state = msgspec.json.decode(cluster.positions[member], type=State)
    [(_, position)] = state.files.items()
    assert (position.offset, position.line, position.done) == (path.stat().st_size, 3001, True)
    assert "transactions committed" in report.to_text()


async def test_a_rerun_resumes_at_the_committed_positions_and_sends_nothing_twice(tmp_path: Path) -> None:
    lines = keyed_lines(2000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=3)
    first = await replay(exactly_once(path, limit=1200), cluster=cluster)
    assert first.acknowledged == 1200 and first.exactly_once is not None and not first.exactly_once.resumed
    second = await replay(exactly_once(path), cluster=cluster)
    assert second.acknowledged == 800 and second.exactly_once is not None and second.exactly_once.resumed
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines)
    again = await replay(exactly_once(path), cluster=cluster)
    assert again.records == 0 and again.exit_code == 0
    restarted = await replay(exactly_once(path, restart=True), cluster=cluster)
    assert restarted.acknowledged == 2000 and restarted.exactly_once is not None and not restarted.exactly_once.resumed


async def test_an_aborted_transaction_is_sent_again_from_the_last_committed_position(tmp_path: Path) -> None:
    lines = keyed_lines(2500)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2)
    cluster.abort_commits = 2  # the start's commit, then the first transaction of records: both fail and are aborted
    report = await replay(exactly_once(path), cluster=cluster)
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines), "each record once"
    assert report.exit_code == 0 and report.exactly_once is not None and report.exactly_once.aborted == 2
    assert report.acknowledged == report.records == 2500, "counts are of what was committed, not of what was aborted"
    assert len([w for w in report.warnings if "aborted" in w]) == 2


@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
async def test_every_mode_and_format_sends_an_aborted_transaction_again_exactly(tmp_path: Path, mode: str, fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 400 if mode == "sync" else 1500
    users, seqs = [f"u{i % 37}" for i in range(n)], list(range(n))
    path = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"user": users, "seq": seqs}), path, row_group_size=100)
    elif fmt == "csv":
        path.write_text("user,seq\n" + "".join(f"{u},{s}\n" for u, s in zip(users, seqs, strict=True)))
    else:
        write_lines(path, keyed_lines(n))
    cluster = MemoryCluster(partitions=3)
    cluster.abort_at = frozenset({3, 5})  # after the start's and the first records' commits; then once more
    report = await replay(exactly_once(path, mode=mode, transaction_records=100, rate=20_000), cluster=cluster)
    assert report.exit_code == 0 and report.exactly_once is not None and report.exactly_once.aborted == 2
    got = [msgspec.json.decode(m.value) for m in cluster.messages("t")]
    assert sorted(int(r["seq"]) for r in got) == seqs, "each record once"
    assert report.acknowledged == report.records == report.lines == n
    in_key_order(cluster.messages("t"), 3)


async def test_a_restart_whose_transaction_aborts_after_a_commit_goes_on_from_that_commit(tmp_path: Path) -> None:
    lines = keyed_lines(3000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2)
    await replay(exactly_once(path, limit=1200), cluster=cluster)
    before = cluster.commits
    cluster.abort_at = frozenset({before + 3})  # the restart's start and first records commit, then an abort
    report = await replay(exactly_once(path, restart=True), cluster=cluster)
    assert report.exactly_once is not None and report.exactly_once.aborted == 1 and report.exactly_once.restarted
    sent_again = collections.Counter(m.value for m in cluster.messages("t")) - collections.Counter(lines[:1200])
    assert sent_again == collections.Counter(lines), "the restart sent every line once, its aborted part again"
    assert "found and ignored (--restart)" in report.to_text()
    assert (report.files, report.lines, report.acknowledged) == (1, 3000, 3000), "input counted once, not per attempt"


async def test_a_limit_holds_across_an_aborted_transaction(tmp_path: Path) -> None:
    lines = keyed_lines(3000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2)
    cluster.abort_at = frozenset({3})  # the start's commit, the first records' commit, then an abort
    report = await replay(exactly_once(path, limit=2000), cluster=cluster)
    assert report.exactly_once is not None and report.exactly_once.aborted == 1
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines[:2000])
    assert (report.lines, report.acknowledged) == (2000, 2000)


async def test_a_transaction_whose_records_get_no_answer_is_aborted_after_the_delivery_timeout(tmp_path: Path) -> None:
    lines = keyed_lines(2000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2, hold=True)  # the broker takes the records and never answers

    async def answer_later() -> None:
        await asyncio.sleep(0.5)
        cluster.hold = False  # and then answers again: the records held by then stay unanswered

    later = asyncio.create_task(answer_later())
    report = await replay(exactly_once(path, delivery_timeout=0.2), cluster=cluster)
    await later
    assert report.exit_code == 0 and report.exactly_once is not None and report.exactly_once.aborted >= 1
    assert collections.Counter(m.value for m in cluster.messages("t")) == collections.Counter(lines)
    assert any("not all acknowledged within the delivery timeout (0.2 s)" in w for w in report.warnings)


async def test_dead_letters_to_a_file_are_cut_back_to_the_committed_positions_on_resume(tmp_path: Path) -> None:
    lines = keyed_lines(1000)
    lines[100] = lines[700] = b"not json"
    path = write_lines(tmp_path / "in.jsonl", lines)
    dead = tmp_path / "dead.jsonl"
    cluster = MemoryCluster(partitions=2)
    await replay(exactly_once(path, limit=500, dead_letter=str(dead)), cluster=cluster)
    assert [msgspec.json.decode(d)["line"] for d in dead.read_bytes().splitlines()] == [101]
    with dead.open("ab") as f:  # as if a run had written a letter and died before committing it
        f.write(b'{"file":"in.jsonl","line":701,"offset":0,"reason":"json","message":"x","raw":"not json"}\n')
    await replay(exactly_once(path, dead_letter=str(dead)), cluster=cluster)
    assert [msgspec.json.decode(d)["line"] for d in dead.read_bytes().splitlines()] == [101, 701], "each letter once"


async def test_dead_letters_to_a_topic_go_in_the_transactions(tmp_path: Path) -> None:
    lines = keyed_lines(600)
    lines[10] = b"not json"
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=2)
    cluster.abort_commits = 2  # the letter's transaction aborts once: the letter is written again, and seen once
    report = await replay(exactly_once(path, dead_letter="topic:dead"), cluster=cluster)
    assert report.exit_code == 0 and report.dead_lettered == 1
    assert [msgspec.json.decode(m.value)["line"] for m in cluster.messages("dead")] == [11]


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"acks": "1"}, "exactly_once needs producer.acks all"),
        ({"idempotence": "off"}, "exactly_once needs producer.acks all"),
        ({"checkpoint": "cp.json"}, "keeps its positions in Kafka"),
    ],
)
def test_settings_exactly_once_cannot_keep_are_refused(tmp_path: Path, settings: dict[str, object], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        exactly_once(tmp_path / "in.jsonl", **settings)


def test_members_of_a_job_have_ids_of_their_own_the_same_on_every_restart(tmp_path: Path) -> None:
    a, b = exactly_once(tmp_path / "in.jsonl"), exactly_once(tmp_path / "in.jsonl")
    assert job_of(a) == job_of(b) != job_of(config(tmp_path / "other.jsonl", "t", exactly_once=True))  # type: ignore[arg-type]
    assert member_of("job", (2, 4), None) == "job/shard-2-of-4"
    assert member_of("job", (2, 4), (1, 2)) == "job/shard-2-of-4/process-1-of-2"
    assert job_of(exactly_once(tmp_path / "in.jsonl", transactional_id="mine")) == "mine"  # type: ignore[arg-type]


def test_members_of_another_layout_are_told_apart_from_this_ones_siblings() -> None:
    keys = ["job", "job/process-0-of-2", "job/process-1-of-2", "job/process-0-of-3", "jobs/process-0-of-2", "other"]
    assert laid_out_otherwise("job", "job/process-1-of-2", keys) == ["job", "job/process-0-of-3"]
    assert laid_out_otherwise("job", "job", keys) == ["job/process-0-of-2", "job/process-1-of-2", "job/process-0-of-3"]
    sharded = ["j/shard-0-of-4/process-0-of-2", "j/shard-3-of-4/process-1-of-2", "j/shard-1-of-2/process-0-of-2"]
    assert laid_out_otherwise("j", "j/shard-1-of-4/process-0-of-2", sharded) == ["j/shard-1-of-2/process-0-of-2"]


async def test_positions_of_another_layout_are_refused_and_a_restart_deletes_them(tmp_path: Path) -> None:
    lines = keyed_lines(1000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster(partitions=4)
    for index in range(2):
        await replay(exactly_once(path, shard=f"{index}/2", shard_by="partition", limit=100), cluster=cluster)
    job = job_of(exactly_once(path))  # type: ignore[arg-type]
    assert sorted(cluster.positions) == [f"{job}/shard-0-of-2", f"{job}/shard-1-of-2"]
    with pytest.raises(ConfigError, match=r"holds positions of .*shard-0-of-2', committed by a replay laid out otherwise"):
        await replay(exactly_once(path, shard="0/4", shard_by="partition"), cluster=cluster)
    with pytest.raises(ConfigError, match="laid out otherwise"):
        await replay(exactly_once(path), cluster=cluster)
    assert cluster.commits == 2 * 2, "nothing was committed by the refused runs"
    report = await replay(exactly_once(path, restart=True), cluster=cluster)
    assert report.acknowledged == 1000 and sorted(cluster.positions) == [job], "the other layout's positions are gone"
