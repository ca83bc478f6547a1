"""pump on a 3-broker Apache Kafka cluster: replicated topics, the leader killed mid-replay, and exactly once's drill."""

from __future__ import annotations

import collections
import random
import time
from pathlib import Path

import pytest

from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.builders import keyed_lines, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import admin, consume, create_topic

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka]


def test_a_topic_created_with_three_replicas_has_them_on_three_brokers(
    kafka3: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(1000))
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka3.bootstrap, "--create-topic",
                    "--partitions", "3", "--replication-factor", "3", "--key-field", "user")  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    partitions = admin(kafka3.bootstrap).list_topics(topic_name, timeout=10).topics[topic_name].partitions
    assert sorted(sorted(p.replicas) for p in partitions.values()) == [[1, 2, 3]] * 3
    assert len(consume(kafka3.bootstrap, topic_name, 1000)) == 1000


def test_idempotent_replay_through_a_killed_and_restarted_leader_is_exact_and_in_order(
    kafka3: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    lines = keyed_lines(400_000, keys=101)
    path = write_lines(tmp_path / "in.jsonl", lines)
    client = create_topic(kafka3.bootstrap, topic_name, 6, 3, config={"min.insync.replicas": "2"})
    report = tmp_path / "report.json"
    with cli.start("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka3.bootstrap, "--key-field", "user",
                   "--idempotence", "--delivery-timeout", "120", "--max-in-flight", "20000", "--report-json", str(report),
                   "--no-progress") as proc:  # fmt: skip
        time.sleep(2)
        assert proc.poll() is None, "the replay ended before the leader could be killed"
        partitions = client.list_topics(topic_name, timeout=10).topics[topic_name].partitions.values()
        leaders = collections.Counter(p.leader for p in partitions)
        victim = kafka3.nodes[leaders.most_common(1)[0][0] - 1]
        kafka3.kill(victim)  # SIGKILL: a crash, not a clean shutdown
        time.sleep(3)
        kafka3.start(victim)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode() + err.decode() + kafka3.tails()
    assert cli.report_of(report)["retries"] > 0, "the leader's death did not touch the replay"
    got = consume(kafka3.bootstrap, topic_name, len(lines), within=120)
    counts = collections.Counter(m.value for m in got)
    assert [v for v in lines if v not in counts] == [], "records missing"
    assert {v: n for v, n in counts.items() if n > 1} == {}, "records duplicated"
    in_key_order(got, 6)
    kafka3.wait_ready()


def test_exactly_once_through_three_kills_and_a_leader_lost_mid_transaction_is_exact_and_in_order(
    kafka3: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """The drill: 500,000 keyed records, the replay SIGKILLed three times at random moments and resumed each time in a
    fresh directory (its positions are in Kafka, not on a disk), then a partition leader SIGKILLed while a transaction
    is open. A read_committed consumer must see every record once, each key's in order; and ``pump verify`` agree."""
    seed = random.randrange(1 << 32)
    pick = random.Random(seed)
    lines = keyed_lines(500_000, keys=101)
    path = write_lines(tmp_path / "in.jsonl", lines)
    client = create_topic(kafka3.bootstrap, topic_name, 6, 3, config={"min.insync.replicas": "2"})
    command = ["replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka3.bootstrap, "--key-field", "user",
               "--exactly-once", "--transaction-records", "20000", "--delivery-timeout", "120", "--rate", "100000",
               "--no-progress"]  # fmt: skip
    for attempt in range(3):
        cwd = tmp_path / f"run-{attempt}"
        cwd.mkdir()
        with cli.start(*command, cwd=cwd) as proc:
            time.sleep(pick.uniform(1.5, 3.0))
            assert proc.poll() is None, f"run {attempt} ended before it could be killed (seed {seed})"
            proc.kill()
            proc.communicate()
    report = tmp_path / "report.json"
    cwd = tmp_path / "run-last"
    cwd.mkdir()
    with cli.start(*command, "--report-json", str(report), cwd=cwd) as proc:
        time.sleep(2.0)
        assert proc.poll() is None, f"the last run ended before the leader could be killed (seed {seed})"
        partitions = client.list_topics(topic_name, timeout=10).topics[topic_name].partitions.values()
        victim = kafka3.nodes[collections.Counter(p.leader for p in partitions).most_common(1)[0][0] - 1]
        kafka3.kill(victim)
        time.sleep(3)
        kafka3.start(victim)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"seed {seed}: " + out.decode() + err.decode() + kafka3.tails()
    assert cli.report_of(report)["exactly_once"]["resumed"]
    got = consume(kafka3.bootstrap, topic_name, len(lines), within=120, **{"isolation.level": "read_committed"})
    counts = collections.Counter(m.value for m in got)
    assert [v for v in lines if v not in counts][:5] == [], f"records missing (seed {seed})"
    assert {v: n for v, n in counts.items() if n > 1} == {}, f"records duplicated (seed {seed})"
    in_key_order(got, 6)
    verify = cli.pump("verify", *command[1:], timeout=300)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
    kafka3.wait_ready()
