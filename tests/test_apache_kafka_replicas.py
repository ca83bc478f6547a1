"""pump on Apache Kafka with too few in-sync replicas: records wait, fail with their own reason within the
delivery timeout, and a resume after the brokers return delivers them.

Three brokers, one of them also the (only) controller: stopping the other two keeps the KRaft quorum, so the
controller shrinks every partition's in-sync replicas to the one broker left, as it would in production
(with three combined nodes, stopping two would lose the quorum instead).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from confluent_kafka.admin import AdminClient

from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.builders import keyed_lines, write_lines
from tests.support.kafka import consume, create_topic

# Each test waits for a cluster of three to start, for the in-sync replicas to shrink once two brokers stop, and for
# them to grow again: on a loaded 2-core machine that passed pytest's default 120 s while pump itself had run for
# 5 s (seen once in a clean-clone run, twice in four runs with the cores kept busy). Not pump's time: more room.
pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka, pytest.mark.timeout(300)]
TIMEOUT = 4  # --delivery-timeout, seconds
ISR_LAG_MS = 10_000  # replica.lag.time.max.ms: a stopped follower leaves the in-sync replicas after this (default 30 s)


@pytest.fixture(scope="module")
def one_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    settings = {"replica.lag.time.max.ms": str(ISR_LAG_MS)}
    with KafkaCluster(3, tmp_path_factory.mktemp("kafka-isr"), settings, controllers=1) as cluster:
        yield cluster


def wait_for_isr(client: AdminClient, topic: str, size: int, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while True:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions.values()
        if partitions and all(len(p.isrs) == size for p in partitions):
            return
        assert time.monotonic() < deadline, f"in-sync replicas not {size}: {[p.isrs for p in partitions]}"
        time.sleep(0.5)


def stopped_followers(cluster: KafkaCluster, client: AdminClient, topic: str) -> None:
    """Stop the two brokers that are not the controller, until the in-sync replicas are the one left."""
    for node in cluster.nodes[1:]:
        node.process.terminate()  # type: ignore[union-attr]
    for node in cluster.nodes[1:]:
        cluster.stop(node)
    wait_for_isr(client, topic, 1)


def restarted_followers(cluster: KafkaCluster) -> None:
    for node in cluster.nodes[1:]:
        if node.process is None:
            cluster.start(node)
    cluster.wait_ready()


def new_topic(cluster: KafkaCluster, topic: str) -> AdminClient:
    return create_topic(cluster.bootstrap, topic, 3, 3, config={"min.insync.replicas": "2"})


def test_too_few_in_sync_replicas_fail_records_as_not_enough_replicas_then_a_resume_delivers_them(
    one_controller: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    cluster = one_controller
    client = new_topic(cluster, topic_name)
    lines = keyed_lines(3000, keys=31)
    path = write_lines(tmp_path / "in.jsonl", lines)
    checkpoint, report = tmp_path / "cp.json", tmp_path / "report.json"
    args = ("replay", str(path), "--topic", topic_name, "--bootstrap-servers", cluster.bootstrap, "--key-field", "user",
            "--report-json", str(report), "--no-progress")  # fmt: skip
    stopped_followers(cluster, client, topic_name)
    try:
        started = time.monotonic()  # the default producer (idempotent): pump expires its batches
        failed = cli.pump(*args, "--checkpoint", str(checkpoint), "--delivery-timeout", str(TIMEOUT))
        took = time.monotonic() - started
        failed_report = cli.report_of(report)
        # not idempotent: aiokafka expires the batches itself; the dead letters get every record
        dead = cli.pump(
            *args, "--idempotence", "off", "--delivery-timeout", str(TIMEOUT), "--dead-letter", str(tmp_path / "dead.jsonl")
        )
        dead_report = cli.report_of(report)
    finally:
        restarted_followers(cluster)
    out = failed.stdout.decode() + failed.stderr.decode()
    assert failed.returncode == 1, out
    assert took >= TIMEOUT, "records failed before the delivery timeout"
    assert failed_report["idempotent"] and failed_report["failed_by_reason"] == {"not_enough_replicas": 3000}, out
    assert "not_enough_replicas: 3,000" in out
    assert dead.returncode == 0, dead.stdout.decode() + dead.stderr.decode()
    assert dead_report["failed_by_reason"] == {"not_enough_replicas": 3000} and dead_report["acknowledged"] == 0
    letters = [msgspec.json.decode(line) for line in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert sorted(letter["raw"].encode() for letter in letters) == sorted(lines)
    assert all(letter["message"].startswith("not_enough_replicas: ") for letter in letters), letters[0]

    wait_for_isr(client, topic_name, 3)
    resumed = cli.pump(*args, "--checkpoint", str(checkpoint))
    assert resumed.returncode == 0, resumed.stdout.decode() + resumed.stderr.decode()
    got = collections.Counter(m.value for m in consume(cluster.bootstrap, topic_name, len(lines), within=60))
    assert got == collections.Counter(lines), "the resume did not deliver every record exactly once"


def test_replicas_returning_mid_replay_leave_every_record_delivered_once_or_dead_lettered(
    one_controller: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    cluster = one_controller
    client = new_topic(cluster, topic_name)
    lines = keyed_lines(200_000, keys=31)
    path = write_lines(tmp_path / "in.jsonl", lines)
    dead, report = tmp_path / "dead.jsonl", tmp_path / "report.json"
    stopped_followers(cluster, client, topic_name)
    try:
        with cli.start("replay", str(path), "--topic", topic_name, "--bootstrap-servers", cluster.bootstrap, "--key-field",
                       "user", "--delivery-timeout", str(TIMEOUT), "--max-in-flight", "20000", "--dead-letter", str(dead),
                       "--report-json", str(report), "--no-progress") as proc:  # fmt: skip
            deadline = time.monotonic() + 60
            while not (dead.exists() and dead.stat().st_size) and proc.poll() is None:  # the first records expired
                assert time.monotonic() < deadline, "no record failed while the replicas were gone"
                time.sleep(0.2)
            restarted_followers(cluster)
            out, err = proc.communicate(timeout=120)
    finally:
        restarted_followers(cluster)
    assert proc.returncode == 0, out.decode() + err.decode()
    summary = cli.report_of(report)
    letters = [msgspec.json.decode(line) for line in dead.read_bytes().splitlines()]
    failed = collections.Counter(letter["message"].partition(":")[0] for letter in letters)
    assert summary["failed_by_reason"] == dict(failed) and failed["not_enough_replicas"] > 0
    assert set(failed) <= {"not_enough_replicas", "timeout"}  # timeout: an unanswered request, the outcome unknown
    raw = [letter["raw"].encode() for letter in letters]
    refused = {r for r, letter in zip(raw, letters, strict=True) if letter["message"].startswith("not_enough_replicas")}
    assert summary["acknowledged"] + len(letters) == len(lines) and summary["acknowledged"] > 0
    got = collections.Counter(m.value for m in consume(cluster.bootstrap, topic_name, summary["acknowledged"], within=60))
    assert {v: n for v, n in got.items() if n > 1} == {}, "records duplicated"
    assert set(got).isdisjoint(refused), "records refused as not_enough_replicas (not written) yet in the topic"
    assert set(got) | set(raw) == set(lines), "records missing"
