"""Whole replays into the in-memory cluster: ordering, shutdown, signals, early stops and failures, no broker needed."""

from __future__ import annotations

import asyncio
import collections
import gzip
import os
import signal
from pathlib import Path

import msgspec
import pytest

from pump import Interrupted, PumpError, replay
from pump.records import DeliveryError
from pump.testing import MemoryCluster
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.checks import in_key_order


@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
async def test_many_workers_keep_per_key_order_in_every_mode(tmp_path: Path, mode: str) -> None:
    lines = keyed_lines(3000)
    cluster = MemoryCluster(partitions=4, batch_capacity=37)
    path = write_lines(tmp_path / "in.jsonl", lines)
    report = await replay(config(path, "t", key_field="user", mode=mode, workers=4, chunk_bytes=512), cluster=cluster)
    got = cluster.messages("t")
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    in_key_order(got, 4)
    assert (report.acknowledged, report.unsettled, report.exit_code, report.partitions) == (3000, 0, 0, 4)


async def hold_until_sent(cluster: MemoryCluster, task: asyncio.Task) -> None:
    while cluster.sends < 3 and not task.done():
        await asyncio.sleep(0.005)
    assert not task.done()


async def test_first_signal_stops_reading_and_finishes_what_is_in_flight(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(200_000))
    cluster = MemoryCluster(partitions=2, hold=True)
    run = asyncio.create_task(replay(config(path, "t", key_field="user", chunk_bytes=4096), cluster=cluster, handle_signals=True))
    await hold_until_sent(cluster, run)
    os.kill(os.getpid(), signal.SIGTERM)
    while not run.done():  # the broker keeps answering: everything sent before the signal is acknowledged
        cluster.settle()
        await asyncio.sleep(0.005)
    report = run.result()
    assert (report.exit_code, report.interrupted) == (143, "SIGTERM")
    assert 0 < report.acknowledged == report.sent < 200_000 and report.failed == 0
    assert len(cluster.messages("t")) == report.acknowledged
    assert "INTERRUPTED by SIGTERM" in report.to_text()
    assert cluster.hurried == 30.0  # closing the sink waits no longer than the shutdown timeout


async def test_a_signal_with_sends_that_never_finish_gives_up_after_the_shutdown_timeout(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(50_000))
    cluster = MemoryCluster(hold=True)  # the broker never answers
    cfg = config(path, "t", chunk_bytes=4096, shutdown_timeout=0.2)
    run = asyncio.create_task(replay(cfg, cluster=cluster, handle_signals=True))
    await hold_until_sent(cluster, run)
    os.kill(os.getpid(), signal.SIGINT)
    report = await asyncio.wait_for(run, 5)
    assert (report.exit_code, report.acknowledged) == (130, 0)
    assert report.aborted == "in-flight records still unsettled after the shutdown timeout (0.2 s)"


async def test_a_second_signal_aborts_at_once(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(50_000))
    cluster = MemoryCluster(hold=True)
    run = asyncio.create_task(replay(config(path, "t", chunk_bytes=4096), cluster=cluster, handle_signals=True))
    await hold_until_sent(cluster, run)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(Interrupted, match="aborted by a second SIGTERM") as caught:
        await asyncio.wait_for(run, 5)
    assert caught.value.exit_code == 143
    assert cluster.hurried == 1.0  # and the second signal cuts that to a second


async def test_max_errors_stops_early_but_delivers_the_valid_lines_already_read(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [b'{"user":"a","seq":1}'] + [b"not json"] * 5000)
    cluster = MemoryCluster()
    report = await replay(config(path, "t", max_errors=3, chunk_bytes=64), cluster=cluster)
    assert report.exit_code == 1 and report.aborted == "stopped after more than 3 invalid lines (the max-errors limit)"
    assert report.acknowledged == 1 and len(cluster.messages("t")) == 1
    assert 3 < report.invalid < 200  # stopped soon after the limit, not after reading all 5000


async def test_a_truncated_input_delivers_every_whole_record_before_the_damage_then_fails(tmp_path: Path) -> None:
    lines = keyed_lines(100_000)
    blob = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    cluster = MemoryCluster()
    report = await replay(config(path, "t", chunk_bytes=8192), cluster=cluster)
    assert report.exit_code == 2 and report.error is not None and "truncated gzip stream" in report.error
    got = [m.value for m in cluster.messages("t")]
    assert 0 < len(got) == report.acknowledged == report.records and got == lines[: len(got)]


async def test_a_dead_letter_target_that_fails_stops_the_run_and_says_so(tmp_path: Path) -> None:
    lines = keyed_lines(20_000)
    lines[5] = b"not json"
    path = write_lines(tmp_path / "in.jsonl", lines)
    cluster = MemoryCluster()
    report = await replay(config(path, "t", dead_letter="/dev/full", chunk_bytes=256), cluster=cluster)  # every write: ENOSPC
    assert report.exit_code == 2
    assert report.error == "cannot write dead letters to /dev/full: [Errno 28] No space left on device"
    assert report.dead_lettered == 0 and report.invalid >= 1
    assert report.acknowledged < 20_000, "the run went on as if the dead letters were safe"


async def test_undeliverable_records_go_to_a_dead_letter_topic_with_their_reason(tmp_path: Path) -> None:
    lines = keyed_lines(100)
    path = write_lines(tmp_path / "in.jsonl", lines)

    def refuse_seq_7(key: bytes | None, value: bytes) -> DeliveryError | None:
        return DeliveryError("broker", "not today") if b'"seq": 7}' in value else None

    cluster = MemoryCluster(fail=refuse_seq_7, batch_capacity=1)
    report = await replay(config(path, "t", key_field="user", dead_letter="topic:dlq"), cluster=cluster)
    assert (report.exit_code, report.acknowledged, report.failed, report.dead_lettered) == (0, 99, 1, 1)
    [letter] = [msgspec.json.decode(m.value) for m in cluster.messages("dlq")]
    assert (letter["line"], letter["reason"], letter["message"], letter["raw"]) == (
        8,
        "delivery",
        "broker: not today",
        lines[7].decode(),
    )


async def test_two_replays_in_one_event_loop_keep_their_own_accounts(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a.jsonl", keyed_lines(3000))
    b = write_lines(tmp_path / "b.jsonl", [*keyed_lines(1000), b"oops"])
    cluster = MemoryCluster(partitions=3)
    ra, rb = await asyncio.gather(replay(config(a, "ta"), cluster=cluster), replay(config(b, "tb"), cluster=cluster))
    assert (ra.acknowledged, ra.invalid, ra.exit_code) == (3000, 0, 0)
    assert (rb.acknowledged, rb.invalid, rb.exit_code) == (1000, 1, 1)
    assert (len(cluster.messages("ta")), len(cluster.messages("tb"))) == (3000, 1000)


async def test_a_missing_topic_is_an_error_before_anything_is_read(tmp_path: Path) -> None:
    from pump import TopicError

    path = write_lines(tmp_path / "in.jsonl", keyed_lines(10))
    with pytest.raises(TopicError, match="does not exist"):
        await replay(config(path, "gone"), cluster=MemoryCluster(missing=frozenset({"gone"})))


@pytest.mark.integration
async def test_a_decode_process_that_dies_is_one_clear_error_not_a_traceback(tmp_path: Path) -> None:
    import psutil

    path = write_lines(tmp_path / "in.jsonl", keyed_lines(300_000))
    cluster = MemoryCluster()
    run = asyncio.create_task(replay(config(path, "t", decode_processes=1, chunk_bytes=4096), cluster=cluster))
    children: list[psutil.Process] = []
    while not children and not run.done():
        children = [c for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]  # not the resource tracker
        await asyncio.sleep(0.01)
    while cluster.sends == 0 and not run.done():
        await asyncio.sleep(0.01)
    children[0].kill()  # as the kernel's OOM killer would
    with pytest.raises(PumpError, match=r"a decode process died while decoding .*in\.jsonl from line \d+"):
        await asyncio.wait_for(run, 30)


async def test_a_refused_authorization_stops_the_run_instead_of_failing_record_after_record(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(200_000))

    def refuse(key: bytes | None, value: bytes) -> DeliveryError:
        return DeliveryError("not_authorized", "user 'bob' is not authorized to write to topic 't'")

    cluster = MemoryCluster(fail=refuse)
    report = await replay(config(path, "t", chunk_bytes=4096), cluster=cluster)
    assert (report.exit_code, report.error) == (2, "user 'bob' is not authorized to write to topic 't'")
    assert report.acknowledged == 0 and report.failed_by_reason == {"not_authorized": report.failed}
    assert report.records < 200_000, "the run went on reading after the broker said no"
