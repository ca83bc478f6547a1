"""Integration: real replays into a real broker (Tansu), checked by consuming the topic back with librdkafka."""

from __future__ import annotations

import collections
import csv

import msgspec
import pytest

from pump import TopicError, replay
from pump.decode import java_partition
from pump.dev.broker import Broker
from tests.support.builders import EXAMPLES, config, keyed_lines, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import consumed, created

pytestmark = pytest.mark.integration
MODES = ["batch", "callback", "sync"]
PARTITIONS = 4


@pytest.mark.parametrize("mode", MODES)
async def test_every_mode_delivers_exact_records_on_java_partitions_in_key_order(
    broker: Broker, topic_name: str, tmp_path, mode: str
) -> None:
    n = 600 if mode == "sync" else 5000
    lines = keyed_lines(n, pad=True)
    path = write_lines(tmp_path / "in.jsonl", lines)
    await created(broker.bootstrap, topic_name, PARTITIONS)
    # many small chunks and three workers, so the workers and the sequencer really interleave
    cfg = config(path, topic_name, broker.bootstrap, key_field="user", mode=mode, chunk_bytes=4096, workers=3, max_in_flight=500)
    report = await replay(cfg)
    got = await consumed(broker.bootstrap, topic_name, n)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    in_key_order(got, PARTITIONS)
    assert (report.records, report.sent, report.acknowledged, report.failed, report.invalid) == (n, n, n, 0, 0)
    assert report.exit_code == 0 and report.unsettled == 0
    assert report.bytes_acknowledged == sum(len(x) for x in lines)


@pytest.mark.parametrize(("mode", "processes"), [("batch", 0), ("callback", 0), ("sync", 0), ("batch", 2)])
async def test_the_empty_string_is_a_key_with_its_own_java_partition(
    broker: Broker, topic_name: str, tmp_path, mode: str, processes: int
) -> None:
    lines = [b'{"user": "%s", "seq": %d}' % (b"" if i % 3 else b"u1", i) for i in range(300)]
    path = write_lines(tmp_path / "in.jsonl", [*lines, b'{"user": null, "seq": 300}', b'{"seq": 301}'])
    await created(broker.bootstrap, topic_name, 5)
    cfg = config(path, topic_name, broker.bootstrap, key_field="user", mode=mode, decode_processes=processes, chunk_bytes=2048)
    report = await replay(cfg)
    assert (report.acknowledged, report.invalid_by_reason) == (300, {"key": 2})  # only missing or null means "no key"
    got = await consumed(broker.bootstrap, topic_name, 300)
    empty = [m for m in got if m.key == b""]
    assert len(empty) == 200 and {m.partition for m in empty} == {java_partition(b"", 5)}
    in_key_order(got, 5)


@pytest.mark.parametrize("keyed", [True, False])
async def test_decoding_in_processes_delivers_the_same_records_in_key_order(
    broker: Broker, topic_name: str, tmp_path, keyed: bool
) -> None:
    lines = keyed_lines(4000, pad=True)
    path = write_lines(tmp_path / "in.jsonl", lines)
    await created(broker.bootstrap, topic_name, PARTITIONS)
    key = {"key_field": "user"} if keyed else {}
    report = await replay(config(path, topic_name, broker.bootstrap, decode_processes=2, chunk_bytes=8192, **key))
    got = await consumed(broker.bootstrap, topic_name, len(lines))
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
    assert (report.records, report.acknowledged, report.exit_code) == (4000, 4000, 0)
    if keyed:
        in_key_order(got, PARTITIONS)
    else:
        assert len({m.partition for m in got}) == PARTITIONS  # unkeyed records spread over every partition


@pytest.mark.parametrize("mode", MODES)
async def test_rides_sample_round_trips_with_the_rides_schema(broker: Broker, topic_name: str, mode: str) -> None:
    cfg = config(EXAMPLES / "rides.csv", topic_name, broker.bootstrap, schema="rides", key_field="PULocationID", mode=mode,
                 create_topic=True, partitions=PARTITIONS)  # fmt: skip
    report = await replay(cfg)
    got = await consumed(broker.bootstrap, topic_name, 266)
    assert report.acknowledged == len(got) == 266 and report.exit_code == 0
    rows = list(csv.DictReader((EXAMPLES / "rides.csv").read_text().splitlines()))
    values = [msgspec.json.decode(m.value) for m in got]
    assert sorted((v["tpep_pickup_datetime"], v["PULocationID"], v["total_amount"]) for v in values) == sorted(
        (r["tpep_pickup_datetime"].replace(" ", "T"), int(r["PULocationID"]), float(r["total_amount"])) for r in rows
    )
    for m in got:
        assert m.key == str(msgspec.json.decode(m.value)["PULocationID"]).encode()
        assert m.partition == java_partition(m.key, PARTITIONS)


async def test_the_rides_tab_or_semicolon_separated_replay_as_their_csv_does(broker: Broker, topic_name: str, tmp_path) -> None:
    rows = list(csv.reader((EXAMPLES / "rides.csv").read_text().splitlines()))
    rows[1][6], rows[2][6] = 'N, "maybe"', "Y;\tno"  # store_and_fwd_flag: text with each file's delimiters in it
    got = {}
    for name, sep, given in [("rides.csv", ",", None), ("rides.tsv", "\t", None), ("rides.txt", ";", ";")]:
        path = tmp_path / name
        with path.open("w", newline="") as f:
            csv.writer(f, delimiter=sep, lineterminator="\n").writerows(rows)
        topic = f"{topic_name}-{name.replace('.', '-')}"
        cfg = config(path, topic, broker.bootstrap, schema="rides", key_field="PULocationID", delimiter=given,
                     create_topic=True, partitions=PARTITIONS)  # fmt: skip
        report = await replay(cfg)
        assert report.acknowledged == 266 and report.exit_code == 0
        messages = await consumed(broker.bootstrap, topic, 266)
        got[name] = sorted(((m.key, m.partition, msgspec.json.decode(m.value)) for m in messages), key=repr)
    assert got["rides.tsv"] == got["rides.txt"] == got["rides.csv"]
    flags = {v["store_and_fwd_flag"] for _, _, v in got["rides.csv"]}
    assert {'N, "maybe"', "Y;\tno"} <= flags


async def test_invalid_lines_are_skipped_and_reported_while_every_valid_line_is_delivered(
    broker: Broker, topic_name: str, tmp_path
) -> None:
    good = [b'{"user": "a", "seq": 1}', b'{"user": "b", "seq": 2}', b'{"user": "a", "seq": 3}']
    path = write_lines(tmp_path / "mixed.jsonl", [good[0], b'{"user": "a", "seq": ', b'{"seq": 9}', good[1], b"[1]",
                                                  b'{"user": null}', good[2]], final_newline=False)  # fmt: skip
    rows = (EXAMPLES / "rides.csv").read_text().splitlines()
    rows[3] = rows[3].replace("2020-07-01", "not-a-date", 1)  # wrong type for the schema, line 4
    rows[5] = rows[5] + ",extra"  # wrong column count, line 6
    csv_path = tmp_path / "rides.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    await created(broker.bootstrap, topic_name, PARTITIONS)
    report = await replay(config(path, topic_name, broker.bootstrap, key_field="user"))
    assert report.exit_code == 1
    assert (report.acknowledged, report.invalid) == (3, 4)
    assert report.invalid_by_reason == {"json": 1, "key": 2, "not_object": 1}
    assert [e.split(": ")[0] for e in report.invalid_examples] == [f"{path}:{n}" for n in (2, 3, 5, 6)]
    report2 = await replay(config(csv_path, topic_name, broker.bootstrap, key_field="PULocationID", schema="rides"))
    assert (report2.acknowledged, report2.invalid) == (264, 2)
    assert [e.split(": ")[0] for e in report2.invalid_examples] == [f"{csv_path}:4", f"{csv_path}:6"]
    got = await consumed(broker.bootstrap, topic_name, 3 + 264)
    assert len(got) == 267 and set(good) <= {m.value for m in got}


async def test_max_errors_stops_the_run_cleanly(broker: Broker, topic_name: str, tmp_path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [b'{"user":"a","seq":1}'] + [b"not json"] * 5000, final_newline=False)
    report = await replay(config(path, topic_name, broker.bootstrap, create_topic=True, max_errors=3, chunk_bytes=64))
    assert report.exit_code == 1 and report.aborted and report.unsettled == 0
    assert report.acknowledged == 1  # the valid line read before the limit is still delivered
    assert 3 < report.invalid < 200  # stopped soon after the limit, not after reading all 5000
    assert len(await consumed(broker.bootstrap, topic_name, 1)) == 1


async def test_missing_topic_without_create_topic_is_a_clear_error(broker: Broker, topic_name: str, tmp_path) -> None:
    path = write_lines(tmp_path / "one.jsonl", [b"{}"])
    with pytest.raises(TopicError, match=r"does not exist.*producer\.create_topic"):
        await replay(config(path, topic_name, broker.bootstrap))


async def test_empty_file_and_header_only_csv_succeed_with_zero_records(broker: Broker, topic_name: str, tmp_path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "header.csv").write_bytes(b"a,b,c\r\n")
    cfg = config([tmp_path / "empty.jsonl", tmp_path / "header.csv"], topic_name, broker.bootstrap, create_topic=True)
    report = await replay(cfg)
    assert (report.records, report.exit_code, report.files) == (0, 0, 2)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_every_compression_codec_offered_works_out_of_the_box(
    broker: Broker, topic_name: str, tmp_path, codec: str
) -> None:
    lines = keyed_lines(3000, pad=True)
    path = write_lines(tmp_path / "in.jsonl", lines)
    report = await replay(config(path, topic_name, broker.bootstrap, key_field="user", compression=codec, create_topic=True))
    assert (report.acknowledged, report.exit_code) == (3000, 0)
    got = await consumed(broker.bootstrap, topic_name, 3000)
    assert collections.Counter(m.value for m in got) == collections.Counter(lines)
