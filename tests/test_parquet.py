"""Parquet inputs: the TLC's 2025 column types, nulls and several row groups, every value as pyarrow reads it,
timestamps as ``--datetime`` says; ``--columns``; resume by row; bad files are one line."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pump import replay
from pump.dev.broker import Broker
from pump.dev.synth import write_parquet
from pump.input.opening import fingerprint_of
from pump.input.parquet import ROW_BYTES, ParquetSource
from pump.input.source import Position
from pump.testing import MemoryCluster
from tests.support import cli
from tests.support.builders import config
from tests.support.httpserver import serving
from tests.support.kafka import consume, create_topic

ROWS = 3000


@pytest.fixture(scope="module")
def trips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parquet") / "yellow_tripdata_2025-11.parquet"
    write_parquet(str(path), ROWS, row_group_rows=700)  # 5 row groups; the unknown-vendor rows hold nulls
    return path


def sent(path: Path, **settings: Any) -> list[dict[str, Any]]:
    cluster = MemoryCluster(partitions=3)
    report = asyncio.run(replay(config(path, "t", chunk_bytes=100_000, **settings), cluster=cluster))
    assert report.exit_code == 0, report.to_text()
    return sorted((msgspec.json.decode(m.value) for m in cluster.messages("t")), key=order)


def order(row: dict[str, Any]) -> tuple[str, ...]:
    """A total order of rows, whichever types their values came as (``0`` and ``0.0`` alike)."""
    return tuple("" if v is None else f"{v:.6f}" if isinstance(v, int | float) else str(v) for v in row.values())


def as_sent(value: Any, mode: str) -> Any:
    if not isinstance(value, dt.datetime):
        return value
    if mode == "iso":
        return value.isoformat()
    if mode == "sql":
        return value.isoformat(sep=" ")
    stamp = value.replace(tzinfo=dt.UTC).timestamp()
    return round(stamp * 1000) if mode == "epoch-ms" else round(stamp * 1_000_000)


@pytest.mark.parametrize("mode", ["iso", "sql", "epoch-ms", "epoch-us"])
def test_every_value_is_what_pyarrow_reads_with_timestamps_as_asked(trips: Path, mode: str) -> None:
    expected = sorted(({k: as_sent(v, mode) for k, v in row.items()} for row in pq.read_table(trips).to_pylist()), key=order)
    got = sent(trips, key_field="PULocationID", datetime=mode)
    assert len(got) == ROWS == len(expected)
    assert got == expected
    assert any(r["passenger_count"] is None for r in got) and all(isinstance(r["VendorID"], int | None) for r in got)
    assert list(got[0]) == pq.read_schema(trips).names, "fields in the file's order"


@pytest.mark.parametrize("mode", ["sql", "epoch-ms", "epoch-us"])
def test_kafka_timestamps_are_the_pickup_times_whatever_form_the_value_takes(trips: Path, mode: str) -> None:
    cluster = MemoryCluster(partitions=3)
    settings = {"time_field": "tpep_pickup_datetime", "record_timestamp": "event", "datetime": mode}
    report = asyncio.run(replay(config(trips, "t", chunk_bytes=100_000, **settings), cluster=cluster))
    assert report.exit_code == 0 and report.acknowledged == ROWS, report.to_text()
    pickups = sorted(
        round(t.replace(tzinfo=dt.UTC).timestamp() * 1000) for t in pq.read_table(trips)["tpep_pickup_datetime"].to_pylist()
    )
    assert sorted(m.timestamp for m in cluster.messages("t")) == pickups


def test_columns_sends_only_those_in_that_order_and_validates_against_the_schema(trips: Path) -> None:
    cols = "PULocationID,tpep_pickup_datetime,DOLocationID,passenger_count,trip_distance"
    got = sent(trips, columns=cols, key_field="PULocationID", datetime="epoch-ms")
    assert [list(r) for r in got[:2]] == [cols.split(",")] * 2
    rides = sent(trips, schema="rides", key_field="PULocationID", datetime="sql")  # the Ride Struct parses sql times
    assert len(rides) == ROWS


def test_nested_columns_are_json_arrays_and_objects_and_a_map_is_an_object(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    maps = pa.map_(pa.string(), pa.int64())
    pq.write_table(pa.table({
        "id": [1, 2, 3],
        "tags": [["a", "b"], [], None],
        "point": [{"x": 1.5, "y": 2}, None, {"x": 0.0, "y": -1}],
        "counts": pa.array([[("k", 1), ("j", 2)], [], None], maps),
        "deep": pa.array([[{"m": [("a", 1)]}], None, []], pa.list_(pa.struct([("m", maps)]))),
        "twice": pa.array([[("k", 1), ("k", 2)], None, [("j", 3)]], maps),  # a map may repeat a key; an object may not
    }), path)  # fmt: skip
    got = sorted(sent(path, key_field="id"), key=lambda row: row["id"])
    assert got == [
        {"id": 1, "tags": ["a", "b"], "point": {"x": 1.5, "y": 2}, "counts": {"k": 1, "j": 2}, "deep": [{"m": {"a": 1}}],
         "twice": [["k", 1], ["k", 2]]},
        {"id": 2, "tags": [], "point": None, "counts": {}, "deep": None, "twice": None},
        {"id": 3, "tags": None, "point": {"x": 0.0, "y": -1}, "counts": None, "deep": [], "twice": {"j": 3}},
    ]  # fmt: skip


@pytest.mark.integration
def test_a_missing_column_or_a_file_that_is_not_parquet_is_one_line_before_anything_is_sent(trips: Path, tmp_path: Path) -> None:
    proc = cli.pump("replay", str(trips), "--topic", "t", "--columns", "PULocationID,nope", "--bootstrap-servers", "127.0.0.1:1")
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [
        f"pump: --columns: {trips} has no column 'nope' (it has {', '.join(pq.read_schema(trips).names)})"
    ]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(trips.read_bytes()[: trips.stat().st_size // 2])  # no footer
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b'{"a": 1}\n')
    for bad in (cut, fake):
        proc = cli.pump("replay", str(bad), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1")
        [line] = cli.stderr_lines(proc)
        assert proc.returncode == 2 and line.startswith(f"pump: {bad}: not a readable Parquet file (")


def test_a_resume_starts_at_the_checkpoints_row_inside_a_row_group(trips: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    print_ = fingerprint_of(str(trips))
    state = {"size": print_.size, "mtime_ns": print_.mtime_ns, "head_sha256": print_.head_sha256, "offset": 1500,
             "line": 1501}  # fmt: skip
    checkpoint.write_bytes(msgspec.json.encode({"topic": "t", "files": {os.path.abspath(trips): state}}))
    got = sent(trips, checkpoint=str(checkpoint))
    expected = pq.read_table(trips).slice(1500).to_pylist()  # row 1500 is inside the third row group (1400..2099)
    assert got == sorted(({k: as_sent(v, "iso") for k, v in row.items()} for row in expected), key=order)
    saved = msgspec.json.decode(checkpoint.read_bytes())["files"][os.path.abspath(trips)]
    assert (saved["offset"], saved["line"], saved["done"]) == (ROWS, ROWS + 1, True)


def test_batches_are_contiguous_rows_in_order_from_a_resume_point_and_a_stop_leaves_nothing_open(trips: Path) -> None:
    source = ParquetSource(str(trips), os.path.getsize(trips))
    rows = 100  # chunk_bytes of 100 rows a batch, cut by the row groups of 700

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def read() -> tuple[list[Any], int, int]:
        batches = [b async for b in source.chunks(Position(650, 651), rows * ROW_BYTES)]
        before = open_files()
        async with contextlib.aclosing(source.chunks(Position(0, 1), rows * ROW_BYTES)) as early:
            async for _ in early:
                assert open_files() == before + 1  # the file, open while it is read
                break
        return batches, before, open_files()

    batches, before, after = asyncio.run(read())
    assert after == before, "a stop closes the file"
    assert [(b.offset, b.first_line, b.lines) for b in batches][:3] == [(650, 651, 50), (700, 701, 100), (800, 801, 100)]
    assert all(b.offset == a.offset + a.lines for a, b in itertools.pairwise(batches)) and batches[-1].end == ROWS
    assert sum(b.raw_bytes for b in batches) <= os.path.getsize(trips) and all(b.format == "parquet" for b in batches)
    zones = [zone for b in batches for zone in b.batch.column("PULocationID").to_pylist()]
    assert zones == pq.read_table(trips).column("PULocationID").to_pylist()[650:]


def test_a_corrupt_row_group_fails_the_run_naming_it_after_delivering_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "damaged.parquet"
    table = pa.table({"k": [f"k{i % 7}" for i in range(4000)], "n": list(range(4000))})
    pq.write_table(table, path, row_group_size=1000, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(2).column(1)
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 20 : start + 60] = b"\xff" * 40  # inside the third row group's data page
    path.write_bytes(bytes(data))
    cluster = MemoryCluster(partitions=2)
    report = asyncio.run(replay(config(path, "t", key_field="k", chunk_bytes=20_000), cluster=cluster))
    assert report.exit_code == 2 and report.error is not None
    assert report.error.startswith(f"{path}:2001: row group 2: "), report.error
    assert report.acknowledged == report.records >= 2000, "the row groups before it are delivered"


@pytest.mark.integration
def test_without_pyarrow_a_parquet_input_names_the_extra(trips: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked" / "pyarrow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('pyarrow is blocked here', name='pyarrow')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocked.parent), str(cli.ROOT)])}
    proc = cli.pump("replay", str(trips), "--topic", "t", env=env)
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == ["pump: reading Parquet needs pyarrow: pip install 'pump[parquet]'"]


@pytest.mark.integration
def test_the_zoomcamp_producer_as_one_command(trips: Path, broker: Broker, topic_name: str) -> None:
    """Five columns, pickup time in epoch milliseconds, the first 1,000 rows at a steady pace."""
    cols = "PULocationID,DOLocationID,trip_distance,total_amount,tpep_pickup_datetime"
    create_topic(broker.bootstrap, topic_name, 1)
    with serving(trips.parent) as base:  # from its URL, as the workshop reads the TLC's
        proc = cli.pump("replay", f"{base}/{trips.name}", "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                        "--columns", cols, "--datetime", "epoch-ms", "--limit", "1000", "--rate", "500",
                        "--source-headers")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert "paced     at most 500 records/s" in proc.stdout.decode()
    messages = consume(broker.bootstrap, topic_name, 1000)
    assert [m.headers for m in messages[:2]] == [(("pump.file", f"{base}/{trips.name}".encode()), ("pump.row", b"%d" % row))
                                                 for row in (1, 2)]  # fmt: skip
    got = [msgspec.json.decode(m.value) for m in messages]
    first = pq.read_table(trips, columns=cols.split(",")).slice(0, 1000).to_pylist()
    assert got == [{k: as_sent(v, "epoch-ms") for k, v in row.items()} for row in first], "in file order, one partition"


def test_batches_vouched_for_by_their_types_are_sent_as_the_decoder_would_send_them(
    trips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rides' TLC types fit the ``rides`` schema: their lines are not decoded again (``decode.vouch``), and what
    reaches the topic is what decoding each line gives, keys and partitions included (the file's nulls are all in
    fields the schema lets be null; what is not vouched for is ``test_vouch``'s)."""
    import pump.decode.parquet as parquet
    from pump.decode.jsonl import JsonLinesDecoder

    def replayed() -> tuple[list[tuple[int, bytes | None, bytes]], int]:
        cluster = MemoryCluster(partitions=3)
        settings = {"schema": "rides", "key_field": "PULocationID", "chunk_bytes": 100_000}
        report = asyncio.run(replay(config(trips, "t", **settings), cluster=cluster))
        assert report.exit_code == 0, report.to_text()
        return sorted((m.partition, m.key, m.value) for m in cluster.messages("t")), report.records

    decoded_lines: list[int] = []  # lines the JSON-lines decoder looked at, one by one
    real = JsonLinesDecoder.decode
    monkeypatch.setattr(
        JsonLinesDecoder, "decode", lambda self, chunk, *rest: decoded_lines.append(chunk.lines) or real(self, chunk, *rest)
    )
    fast, records = replayed()
    assert sum(decoded_lines) < ROWS // 2, "most batches vouched for"

    class Nothing:  # nothing vouched for: every line decoded
        def __init__(self, *_: Any) -> None: ...
        def __call__(self, batch: Any) -> None: ...
        def key_array(self, batch: Any) -> tuple[bool, None]:
            return False, None

    monkeypatch.setattr(parquet, "Vouch", Nothing)
    decoded_lines.clear()
    assert (fast, records) == replayed() and records == ROWS == sum(decoded_lines)


@pytest.mark.integration
def test_batches_framed_as_they_are_read_reach_a_broker_as_decoded_lines_would(
    trips: Path, broker: Broker, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch vouched for with keys becomes record batches on the decoding thread (``stage._framed_rows``): a real
    broker holds, partition by partition and in order, what the decoder and aiokafka's builder send of the same rows."""
    framed = framed_as_read(monkeypatch)

    def replayed(topic: str) -> list[tuple[int, int, bytes | None, bytes]]:
        create_topic(broker.bootstrap, topic, 3)
        settings = {"schema": "rides", "key_field": "PULocationID", "chunk_bytes": 100_000, "batch_bytes": 16_384}
        report = asyncio.run(replay(config(trips, topic, broker.bootstrap, **settings)))
        assert report.exit_code == 0 and report.acknowledged == ROWS, report.to_text()
        return sorted((m.partition, m.offset, m.key, m.value) for m in consume(broker.bootstrap, topic, ROWS))

    fast = replayed(topic_name)
    assert framed and all(framed)  # every batch read was framed
    monkeypatch.setattr("pump.decode.stage._framed_rows", lambda *args: None)  # not framed: decoded, then aiokafka's
    assert fast == replayed(topic_name + "-decoded")


def framed_as_read(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each Parquet batch decoded became in record batches (None: it took the usual way), as the run goes."""
    from pump.decode import stage

    real, framed = stage._framed_rows, []
    monkeypatch.setattr(stage, "_framed_rows", lambda *args: framed.append(real(*args)) or framed[-1])
    return framed


def test_a_time_field_is_read_from_every_row_so_nothing_is_framed_past_it(
    tmp_path: Path, broker: Broker, topic_name: str
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"zone": [1, 2, 3], "pickup": pa.array([dt.datetime(2025, 11, 1), None, dt.datetime(2025, 11, 2)],
                                                                    pa.timestamp("us"))}), path)  # fmt: skip
    create_topic(broker.bootstrap, topic_name, 1)
    report = asyncio.run(replay(config(path, topic_name, broker.bootstrap, key_field="zone", time_field="pickup")))
    assert (report.acknowledged, report.invalid, dict(report.invalid_by_reason)) == (2, 1, {"time": 1}), report.to_text()


def test_framed_rows_hold_their_own_rows_with_their_numbers_from_any_resume_point(trips: Path) -> None:
    """Each batch read, framed, holds in its record batches exactly its rows, numbered as the file's (what checkpoints
    and dead letters go by), also when a resume starts inside a batch."""
    from pump.decode.lines import LineIndex
    from pump.decode.parsed import FramedRows
    from pump.decode.partition import Partitioner
    from pump.decode.stage import build_decoders, decode_chunk
    from pump.output.kafka.framing import ArrowFramer

    source = ParquetSource(str(trips), trips.stat().st_size)
    partitioner = Partitioner(3)
    framer = ArrowFramer(partitioner, 1 << 20, 1 << 20, 65536)
    decoders = build_decoders(None, "PULocationID")
    rows = [{k: as_sent(v, "iso") for k, v in row.items()} for row in pq.read_table(trips).to_pylist()]

    async def read(start: int) -> list[Any]:
        return [batch async for batch in source.chunks(Position(start, start + 1), 1000 * ROW_BYTES)]

    for start in (0, 777):
        batches = asyncio.run(read(start))
        assert batches[0].first_line == start + 1 and sum(b.lines for b in batches) == ROWS - start
        for batch in batches:
            decoded = decode_chunk(decoders, partitioner, batch, framer=framer)
            chunk = decoded.chunk
            assert isinstance(chunk, FramedRows) and decoded.framed is chunk.framed and decoded.count == batch.lines
            lines = sorted(line for *_, batch_lines in chunk.framed for line in batch_lines)
            assert lines == list(range(batch.first_line, batch.first_line + batch.lines))
            index = LineIndex(chunk)
            assert all(msgspec.json.decode(index.raw(line)) == rows[line - 1] and index.of(line) == line - 1 for line in lines)


def test_unkeyed_batches_framed_as_read_go_whole_to_one_partition_each_in_turn(
    trips: Path, broker: Broker, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key field, a batch read and framed goes whole to one partition (its chunk's sticky one, known only
    once it is read), consecutive batches to consecutive partitions, each in file order."""
    framed = framed_as_read(monkeypatch)
    create_topic(broker.bootstrap, topic_name, 3)
    report = asyncio.run(replay(config(trips, topic_name, broker.bootstrap, schema="rides", chunk_bytes=100_000)))
    assert report.exit_code == 0 and report.acknowledged == ROWS, report.to_text()
    assert framed and all(framed)
    per_batch = ROWS // len(framed) + 1  # rows a batch read holds (the last row group's last batch may hold fewer)
    from pump.decode.arrowjson import JsonLines

    table = pq.read_table(trips)
    rows = JsonLines(table.schema).pieces(table.combine_chunks().to_batches()[0], ROWS)[0].splitlines()
    by_value = {value: i for i, value in enumerate(rows)}
    assert len(by_value) == ROWS  # each row's line its own
    got = consume(broker.bootstrap, topic_name, ROWS)
    places = sorted((by_value[m.value], m.partition, m.offset) for m in got)
    assert [row for row, _, _ in places] == list(range(ROWS))  # every row once
    for partition in range(3):
        offsets = [offset for _, p, offset in places if p == partition]
        assert offsets == sorted(offsets), "a partition's records in file order"
    batches = [{p for _, p, _ in places[i : i + per_batch]} for i in range(0, ROWS, per_batch)]
    assert len(batches[0]) == 1 and len({p for b in batches[:3] for p in b}) == 3
