"""pump against Apache Kafka itself (a KRaft node from Maven Central): exact records in every mode, format
and codec; partitions as Kafka's own Java producer picks them; topic creation errors; checkpoint drills."""

from __future__ import annotations

import collections
import signal
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pump import replay
from pump.decode.parsed import Columns, Framed
from pump.output.kafka.framing import ArrowFramer
from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import admin, consume, consumed, create_topic, created
from tests.support.resume import interrupt_mid_replay, resume_and_check

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka]
PARTITIONS = 4


def write_csv(path: Path, n: int) -> list[dict[str, str]]:
    rows = [{"user": f"u{i % 37}", "seq": str(i), "pad": "x" * (i % 50)} for i in range(n)]
    path.write_text("user,seq,pad\n" + "".join(f"{r['user']},{r['seq']},{r['pad']}\n" for r in rows))
    return rows


@pytest.mark.parametrize(
    ("mode", "fmt", "codec"),
    [("batch", "jsonl", "none"), ("batch", "jsonl", "gzip"), ("batch", "jsonl", "snappy"), ("batch", "jsonl", "lz4"),
     ("batch", "jsonl", "zstd"), ("batch", "csv", "zstd"), ("callback", "jsonl", "lz4"), ("callback", "csv", "gzip"),
     ("sync", "jsonl", "snappy"), ("sync", "csv", "none")],
)  # fmt: skip
async def test_every_mode_format_and_codec_delivers_exact_records_on_java_partitions_in_key_order(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path, mode: str, fmt: str, codec: str
) -> None:
    n = 300 if mode == "sync" else 4000
    if fmt == "jsonl":
        lines = keyed_lines(n, pad=True)
        path = write_lines(tmp_path / "in.jsonl", lines)
        expected = collections.Counter(lines)
    else:
        path = tmp_path / "in.csv"
        expected = collections.Counter(msgspec.json.encode(row) for row in write_csv(path, n))
    await created(kafka.bootstrap, topic_name, PARTITIONS)
    cfg = config(path, topic_name, kafka.bootstrap, key_field="user", mode=mode, compression=codec, chunk_bytes=8192, workers=3)
    report = await replay(cfg)
    assert (report.acknowledged, report.failed, report.unsettled, report.exit_code) == (n, 0, 0, 0), report.to_text()
    got = await consumed(kafka.bootstrap, topic_name, n)
    assert collections.Counter(m.value for m in got) == expected  # the broker decompressed and validated every batch
    in_key_order(got, PARTITIONS)


@pytest.mark.parametrize("acks", ["1", "all"])  # all: idempotent, each batch numbered as it is sent
async def test_csv_record_batches_framed_on_the_decode_thread_are_taken_whole_by_apache_kafka(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, acks: str
) -> None:
    framed: list[int] = []  # batches made of each chunk (0: left to aiokafka)
    frame = ArrowFramer.frame

    def counted(self: ArrowFramer, columns: Columns, seq: int) -> list[Framed] | None:
        batches = frame(self, columns, seq)
        framed.append(0 if batches is None else len(batches))
        return batches

    monkeypatch.setattr(ArrowFramer, "frame", counted)
    n, path = 4000, tmp_path / "in.csv"
    expected = collections.Counter(msgspec.json.encode(row) for row in write_csv(path, n))
    await created(kafka.bootstrap, topic_name, PARTITIONS)
    cfg = config(path, topic_name, kafka.bootstrap, key_field="user", acks=acks, chunk_bytes=8192, batch_bytes=2048, workers=3)
    report = await replay(cfg)
    assert (report.acknowledged, report.failed, report.unsettled, report.exit_code) == (n, 0, 0, 0), report.to_text()
    assert report.idempotent == (acks == "all")
    assert len(framed) > 10 and all(framed) and sum(framed) > len(framed) * PARTITIONS  # every chunk, cut to fit
    got = await consumed(kafka.bootstrap, topic_name, n)
    assert collections.Counter(m.value for m in got) == expected  # the broker checked every batch's CRC and framing
    in_key_order(got, PARTITIONS)


@pytest.mark.parametrize("acks", ["1", "all"])
async def test_parquet_batches_framed_as_they_are_read_are_taken_whole_by_apache_kafka(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, acks: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pump.decode import stage

    framed: list[int] = []  # record batches made of each batch read (0: left to the decoder and aiokafka)
    frame = stage._framed_rows

    def counted(*args: Any) -> Any:
        decoded = frame(*args)
        framed.append(0 if decoded is None or decoded.framed is None else len(decoded.framed))
        return decoded

    monkeypatch.setattr(stage, "_framed_rows", counted)
    n, path = 4000, tmp_path / "in.parquet"
    rows = write_csv(tmp_path / "unused.csv", n)
    pq.write_table(pa.table({"user": [r["user"] for r in rows], "seq": [int(r["seq"]) for r in rows],
                             "pad": [r["pad"] for r in rows]}), path, row_group_size=1500)  # fmt: skip
    expected = collections.Counter(msgspec.json.encode({**r, "seq": int(r["seq"])}) for r in rows)
    await created(kafka.bootstrap, topic_name, PARTITIONS)
    cfg = config(path, topic_name, kafka.bootstrap, key_field="user", acks=acks, chunk_bytes=32768, batch_bytes=1024, workers=3)
    report = await replay(cfg)  # read 256 rows at a time: 4 batches of about 3.5 KB, cut to 1 KB
    assert (report.acknowledged, report.failed, report.unsettled, report.exit_code) == (n, 0, 0, 0), report.to_text()
    assert len(framed) > 10 and all(framed) and sum(framed) > len(framed) * PARTITIONS  # every batch read, cut to fit
    got = await consumed(kafka.bootstrap, topic_name, n)
    assert collections.Counter(m.value for m in got) == expected
    in_key_order(got, PARTITIONS)


KEYS = ["", "u1", "é", "日本語のキー", "😀 emoji", "x" * 1000, "key with spaces", "0", "-1", *(f"k{i}" for i in range(150))]


def test_every_key_lands_where_kafkas_own_java_producer_puts_it(kafka: KafkaCluster, topic_name: str, tmp_path: Path) -> None:
    partitions = 7
    ours, theirs = f"{topic_name}-pump", f"{topic_name}-java"
    for t in (ours, theirs):
        create_topic(kafka.bootstrap, t, partitions)
    path = write_lines(tmp_path / "keys.jsonl", [msgspec.json.encode({"k": k, "i": i}) for i, k in enumerate(KEYS)])
    proc = cli.pump("replay", str(path), "--topic", ours, "--bootstrap-servers", kafka.bootstrap, "--key-field", "k")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    console = ["java", "-cp", f"{kafka.jars}/*", "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", kafka.bootstrap,
               "--topic", theirs, "--property", "parse.key=true", "--property", "key.separator=\t"]  # fmt: skip
    java = subprocess.run(
        console, input="".join(f"{k}\t{i}\n" for i, k in enumerate(KEYS)).encode(), capture_output=True, timeout=120
    )
    assert java.returncode == 0, java.stderr.decode()[-2000:]
    by_pump = {m.key: m.partition for m in consume(kafka.bootstrap, ours, len(KEYS))}
    by_java = {m.key: m.partition for m in consume(kafka.bootstrap, theirs, len(KEYS))}
    assert len(by_pump) == len(by_java) == len(KEYS) and b"" in by_java  # the empty key is a key to Java too
    disagree = {k: (by_pump[k], by_java[k]) for k in by_java if by_pump.get(k) != by_java[k]}
    assert not disagree, f"pump and Kafka's Java producer put these keys on different partitions: {disagree}"


def test_a_replication_factor_the_cluster_cannot_meet_is_one_line_naming_the_flag(kafka: KafkaCluster, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump("replay", str(path), "--topic", "rf3", "--bootstrap-servers", kafka.bootstrap, "--create-topic",
                    "--replication-factor", "3")  # fmt: skip
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == [
        "pump: cannot create topic 'rf3' with --replication-factor 3: Unable to replicate the partition 3 time(s): The target"
        " replication factor of 3 cannot be reached because only 1 broker(s) are registered."
    ]


def test_a_missing_topic_is_refused_and_not_created_behind_the_users_back(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "x.jsonl", [b"{}"])
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap)
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == [f"pump: topic '{topic_name}' does not exist at {kafka.bootstrap} (add --create-topic)"]
    topics = admin(kafka.bootstrap).list_topics(timeout=10).topics
    assert topic_name not in topics


@pytest.mark.parametrize("how", ["kill", "term"])
def test_stopped_mid_replay_then_resumed_from_the_checkpoint_loses_nothing(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path, how: str
) -> None:
    def stop(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)

    status, out, err, lines, cmd, line = interrupt_mid_replay(kafka, topic_name, tmp_path, 600_000, stop)  # type: ignore[arg-type]
    assert status == (-signal.SIGKILL if how == "kill" else 143), out.decode() + err.decode()
    resume_and_check(kafka, topic_name, cmd, lines, line)  # type: ignore[arg-type]


def test_by_default_the_producer_is_idempotent_with_acks_all(kafka: KafkaCluster, topic_name: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", keyed_lines(2000))
    report = tmp_path / "r.json"
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap, "--create-topic",
                    "--report-json", str(report))  # fmt: skip
    assert proc.returncode == 0 and cli.stderr_lines(proc) == [], proc.stderr.decode()  # no fallback, no warning
    assert (cli.report_of(report)["idempotent"], cli.report_of(report)["acks"]) == (True, "all")
    assert "(acks=all, idempotent)" in proc.stdout.decode()


@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
def test_records_over_the_topics_max_message_bytes_alone_fail_as_too_large_and_are_dead_lettered(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path, mode: str
) -> None:
    n = 400 if mode == "sync" else 3000
    lines = [
        msgspec.json.encode({"user": f"u{i % 7}", "seq": i, "pad": "x" * (3000 if i % 100 == 50 else 200)}) for i in range(n)
    ]
    big = {line for line in lines if len(line) > 2048}
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(kafka.bootstrap, topic_name, 2, config={"max.message.bytes": "2048"})
    dead, report = tmp_path / "dead.jsonl", tmp_path / "report.json"
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", kafka.bootstrap, "--key-field", "user",
                    "--mode", mode, "--dead-letter", str(dead), "--report-json", str(report))  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    got = cli.report_of(report)
    assert (got["acknowledged"], got["failed_by_reason"], got["dead_lettered"]) == (
        n - len(big),
        {"too_large": len(big)},
        len(big),
    )
    letters = [msgspec.json.decode(x) for x in dead.read_bytes().splitlines()]
    assert {x["raw"].encode() for x in letters} == big and {x["reason"] for x in letters} == {"delivery"}
    assert {m.value for m in consume(kafka.bootstrap, topic_name, n - len(big))} == set(lines) - big


def test_pump_bench_uses_a_topic_of_its_own_on_apache_kafka_and_deletes_it(
    kafka: KafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    proc = cli.pump("bench", "--bootstrap-servers", kafka.bootstrap, "--topic", topic_name, "--rows", "2000", "--modes",
                    "batch,callback", "--acks", "1,all", "--repeat", "1", "--partitions", "3",
                    "--report-json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    runs = msgspec.json.decode(out.read_bytes())["runs"]
    assert len(runs) == 4 and all((r["acknowledged"], r["failed"]) == (2000, 0) for r in runs)
    assert topic_name not in admin(kafka.bootstrap).list_topics(timeout=10).topics, "the bench's topic was not deleted"
    client = create_topic(kafka.bootstrap, topic_name, 1)  # someone's topic: refused, left alone
    again = cli.pump("bench", "--bootstrap-servers", kafka.bootstrap, "--topic", topic_name, "--rows", "10")
    assert again.returncode == 2 and cli.stderr_lines(again) == [
        f"pump: topic {topic_name!r} exists at {kafka.bootstrap}: pump bench sends to a topic of its own (name a new one)"
    ]
    assert topic_name in client.list_topics(timeout=10).topics
