"""--time-field, --speed, --max-gap: event times read while decoding, and the schedule on a fake clock."""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from pump import ConfigError, ReplayConfig, replay
from pump.decode import Partitioner
from pump.decode.eventtime import EventTimes, Stamper
from pump.decode.jsonl import JsonLinesDecoder
from pump.decode.stage import Decoded, decode_chunk
from pump.dev.broker import Broker
from pump.pace import EventPace
from pump.testing import MemoryCluster
from tests.support import cli
from tests.support.builders import FakeClock, chunk, config, write_lines
from tests.support.checks import in_key_order
from tests.support.kafka import consume, create_topic

T0 = datetime(2025, 11, 1, tzinfo=UTC)


def lines_at(seconds: Sequence[float], field: str = "t") -> bytes:
    """One JSON line per event time (seconds after T0, as the TLC's CSV form), keyed by its index."""
    out = []
    for i, s in enumerate(seconds):
        when = (T0 + timedelta(seconds=s)).replace(tzinfo=None).isoformat(sep=" ")
        out.append(msgspec.json.encode({"k": str(i % 3), field: when}))
    return b"\n".join(out) + b"\n"


def decoded(data: bytes, partitions: int = 4) -> Decoded:
    decoders = {"jsonl": JsonLinesDecoder(None, "k")}
    return decode_chunk(decoders, Partitioner(partitions), chunk(data, first_line=1), EventTimes("t"))  # type: ignore[dict-item]


async def replay_times(pace: EventPace, clock: FakeClock, chunks: list[Decoded]) -> list[tuple[float, list[int]]]:
    """(clock time, lines) of each piece the pacer lets go, over ``chunks`` in order."""
    went = []
    halted = asyncio.Event()
    for d in chunks:
        async for piece in pace.pace(d, halted):
            went.append((clock.now, sorted(r[2] for rs in piece.batches.values() for r in rs)))
    return went


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2025-11-01 00:05:00", 300.0),  # the TLC's CSV form, no zone: UTC
        ("2025-11-01T00:05:00.250", 300.25),
        ("2025-11-01T01:05:00+01:00", 300.0),
        ("2025-11-01T00:05:00Z", 300.0),
        (int((T0.timestamp() + 300) * 1000), 300.0),  # epoch milliseconds, what --datetime epoch-ms writes
    ],
)
def test_an_event_time_is_read_from_text_or_epoch_milliseconds(value: object, seconds: float) -> None:
    assert EventTimes("t").seconds(value) == pytest.approx(T0.timestamp() + seconds)


def test_a_record_without_a_time_is_invalid_with_reason_time_and_the_rest_go_on() -> None:
    data = b'{"k":"a","t":"2025-11-01 00:00:00"}\n{"k":"b"}\n{"k":"c","t":null}\n{"k":"d","t":"soon"}\n{"k":"e","t":true}\n'
    data += b'{"k":"f","t":"2025-11-01 00:00:01"}\n'
    out = decoded(data)
    assert [line for line, _ in out.times or []] == [1, 6] and out.count == 2
    assert [(i.line, i.reason) for i in out.invalid] == [(2, "time"), (3, "time"), (4, "time"), (5, "time")]
    assert out.invalid[0].message == "--time-field 't' is missing or null"
    assert out.invalid[2].message == "--time-field 't': \"soon\" is not a time"


async def test_records_go_when_their_event_time_says_on_a_schedule() -> None:
    clock = FakeClock()
    pace = EventPace(60, 60, clock=clock, sleep=clock.sleep)
    went = await replay_times(pace, clock, [decoded(lines_at([0, 0, 60, 120, 120.001, 180]))])
    # 60x: a minute of event time is a second; records 1 ms apart in event time (under 2 ms of replay) go together
    assert went == [(100.0, [1, 2]), (101.0, [3]), (102.0, [4, 5]), (103.0, [6])]
    assert pace.late == pace.skipped == 0


async def test_lateness_never_adds_up_when_sending_takes_time() -> None:
    clock = FakeClock()
    pace = EventPace(1, 60, clock=clock, sleep=clock.sleep)
    halted = asyncio.Event()
    async for _ in pace.pace(decoded(lines_at([float(i) for i in range(10)])), halted):
        clock.now += 0.3  # sending each piece takes 0.3 s: the next sleep is shorter, the schedule the same
    assert clock.now == pytest.approx(100.0 + 9 + 0.3) and all(s == pytest.approx(0.7) for s in clock.slept)


async def test_a_shuffled_file_takes_no_longer_than_the_sorted_one_and_counts_its_late_records() -> None:
    seconds = [float(i) for i in range(0, 600, 2)]
    rng = random.Random(7)  # out of order as real data is: each record up to 20 s from its place (under --max-gap)
    shuffled = sorted(seconds, key=lambda s: s + rng.uniform(-20, 20))
    durations = []
    for order in (seconds, shuffled):
        clock = FakeClock()
        pace = EventPace(60, 60, clock=clock, sleep=clock.sleep)
        await replay_times(pace, clock, [decoded(lines_at(order))])
        durations.append(clock.now - 100.0)
        late = pace.late
    assert durations[1] <= durations[0] == pytest.approx(598 / 60)
    assert late == sum(1 for i, s in enumerate(shuffled) if s < max(shuffled[: i + 1]))  # every one behind the maximum


async def test_a_far_off_timestamp_is_skipped_not_waited_for() -> None:
    clock = FakeClock()
    pace = EventPace(1, 60, clock=clock, sleep=clock.sleep)
    far = 86400 * 365 * 5
    went = await replay_times(pace, clock, [decoded(lines_at([0, 1, far, 2, 3, 4, far + 1, far + 2, far + 3]))])
    # five years on is not slept and moves nothing: 2, 3, 4 are paced, not late behind it. Then the data itself goes
    # on five years later (two records in a row beyond): no wait for that jump either, and paced from there
    assert [(t - 100.0, lines) for t, lines in went] == [(0.0, [1]), (1.0, [2, 3]), (2.0, [4]), (3.0, [5]), (4.0, [6, 7, 8]),
                                                         (5.0, [9])]  # fmt: skip
    assert pace.skipped == 2 and pace.late == 0


async def test_a_stall_moves_the_schedule_on_instead_of_a_burst() -> None:
    clock = FakeClock()
    pace = EventPace(1, 60, clock=clock, sleep=clock.sleep)
    halted = asyncio.Event()
    times = []
    async for _ in pace.pace(decoded(lines_at([0, 1, 2, 3])), halted):
        times.append(clock.now)
        if len(times) == 2:
            clock.now += 5.0  # the broker stalled for 5 s after the second record
    assert [t - 100.0 for t in times] == [0.0, 1.0, 6.0, 7.0], "no burst after the stall"
    assert pace.schedule.shifted == pytest.approx(4.0) and pace.summary()[3] == pytest.approx(4000, rel=0.03)


async def test_a_first_sigint_during_a_wait_sends_the_rest_of_the_chunk_at_once() -> None:
    clock = FakeClock()

    async def sleep(seconds: float, halted: asyncio.Event) -> None:
        halted.set()  # the signal came during the wait

    pace = EventPace(1, 60, clock=clock, sleep=sleep)
    pieces = [p async for p in pace.pace(decoded(lines_at([0, 10, 20, 30])), asyncio.Event())]
    assert [p.count for p in pieces] == [1, 3] and clock.now == 100.0  # nothing read is left without an outcome


async def test_pieces_keep_each_partitions_records_in_input_order() -> None:
    clock = FakeClock()
    pace = EventPace(1000, 60, clock=clock, sleep=clock.sleep)
    whole = decoded(lines_at([i * 0.5 for i in range(40)]), partitions=3)
    got: dict[int, list[int]] = {}
    async for piece in pace.pace(whole, asyncio.Event()):
        for p, records in piece.batches.items():
            got.setdefault(p, []).extend(r[2] for r in records)
    assert got == {p: [r[2] for r in rs] for p, rs in whole.batches.items()}


def test_speed_needs_a_time_field_and_one_process() -> None:
    with pytest.raises(ConfigError, match=r"speed needs .*time_field"):
        ReplayConfig.of("x.jsonl", "t", speed=60)
    with pytest.raises(ConfigError, match="processes 1"):
        ReplayConfig.of("x.jsonl", "t", speed=60, time_field="t", processes=2)
    with pytest.raises(ConfigError, match="above 0"):
        ReplayConfig.of("x.jsonl", "t", speed=0.0, time_field="t")


def ride_lines(seconds: Sequence[float]) -> list[bytes]:
    """Rides-like JSON lines, keyed by zone, the pickup time in the TLC's CSV form."""
    out = []
    for i, s in enumerate(seconds):
        when = (T0 + timedelta(seconds=s)).replace(tzinfo=None).isoformat(sep=" ")
        out.append(msgspec.json.encode({"seq": i, "zone": str(i % 5), "pickup": when}))
    return out


def test_a_replay_by_event_time_reports_and_counts_its_pacing(tmp_path: Path) -> None:
    seconds = [0.0, 0.2, 0.1, 0.4, 3600.0 * 24, 0.5]  # one late record, one record a day off (skipped, moves nothing)
    lines = [*ride_lines(seconds), b'{"seq": 6, "zone": "1"}']
    path = write_lines(tmp_path / "in.jsonl", lines)
    registry = CollectorRegistry()
    cluster = MemoryCluster(partitions=2)
    report = asyncio.run(replay(config(path, "t", key_field="zone", time_field="pickup", speed=10.0), cluster=cluster,
                                registry=registry))  # fmt: skip
    assert report.acknowledged == 6 and report.invalid_by_reason == {"time": 1}
    assert report.event_pacing is not None and (report.event_pacing.late, report.event_pacing.skipped) == (1, 1)
    labels = {"topic": "t"}
    assert registry.get_sample_value("pump_pacing_late_records_total", labels) == 1
    assert registry.get_sample_value("pump_pacing_skipped_gaps_total", labels) == 1
    assert registry.get_sample_value("pump_invalid_lines_total", {**labels, "reason": "time"}) == 1
    assert "by time   10x event time" in report.to_text()


@pytest.mark.integration
def test_a_replay_by_event_time_takes_its_time_and_keeps_every_record_in_key_order(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    seconds = [i * 0.5 for i in range(600)]  # five minutes of events at 120x: 2.5 s of replay
    lines = ride_lines(seconds)
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic_name, 3)
    started = time.monotonic()
    proc = cli.pump("replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field",
                    "zone", "--time-field", "pickup", "--speed", "120", "--report-json", str(tmp_path / "r.json"))  # fmt: skip
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr.decode()
    assert took >= 2.4, "the replay did not wait for its records' times"  # a lower bound: a slow machine only adds
    report = cli.report_of(tmp_path / "r.json")
    assert report["event_pacing"]["speed"] == 120 and report["event_pacing"]["late"] == 0
    messages = consume(broker.bootstrap, topic_name, len(lines))
    assert sum(map(len, in_key_order(messages).values())) == len(lines)


@pytest.mark.integration
def test_a_first_sigint_during_a_long_wait_stops_at_once_and_the_resume_sends_the_rest_once(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    seconds = [i * 60.0 for i in range(2000)]  # a record a minute: at real time, 33 hours
    lines = ride_lines(seconds)
    path = write_lines(tmp_path / "in.jsonl", lines)
    create_topic(broker.bootstrap, topic_name, 2)
    cp, report = tmp_path / "cp.json", tmp_path / "r.json"
    common = ["replay", str(path), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "zone",
              "--time-field", "pickup", "--checkpoint", str(cp), "--report-json", str(report)]  # fmt: skip
    proc = cli.start(*common, "--speed", "30")  # a record every 2 s
    deadline = time.monotonic() + 60
    while not cp.exists():  # under way: its first checkpoint is written
        assert proc.poll() is None and time.monotonic() < deadline, "the replay did not start"
        time.sleep(0.2)
    time.sleep(2.5)
    stopped = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert time.monotonic() - stopped < 10, "the wait did not end at the signal"
    first = cli.report_of(report)
    assert first["unsettled"] == 0 and 1 <= first["acknowledged"] <= EventPace.PIECE_RECORDS + 10, first
    resumed = cli.pump(*common, "--speed", "max")
    assert resumed.returncode == 0, resumed.stderr.decode()
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic_name, len(lines)))
    assert got == collections.Counter(lines), "the stop and the resume together sent every record exactly once"


def test_stamps_are_the_event_times_or_shifted_so_the_first_is_now() -> None:
    times = [(1, 1000.0), (2, 1000.5), (3, 999.0), (4, 1060.25)]
    assert Stamper("event").stamps(times) == {1: 1_000_000, 2: 1_000_500, 3: 999_000, 4: 1_060_250}
    shifted = Stamper("shifted", clock=lambda: 5000.0)
    assert shifted.stamps(times) == {1: 5_000_000, 2: 5_000_500, 3: 4_999_000, 4: 5_060_250}
    assert shifted.stamps([(5, 1061.0)]) == {5: 5_061_000}, "one shift for the whole run, the gaps kept"
    assert Stamper("event").stamps(None) is None


@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
def test_record_timestamps_come_from_the_event_times_in_every_mode(tmp_path: Path, mode: str) -> None:
    seconds = [0.0, 1.5, 0.25, 7200.0]
    path = write_lines(tmp_path / "in.jsonl", ride_lines(seconds))
    cluster = MemoryCluster(partitions=2)
    report = asyncio.run(replay(config(path, "t", key_field="zone", time_field="pickup", record_timestamp="event", mode=mode),
                                cluster=cluster))  # fmt: skip
    assert report.acknowledged == 4
    got = {msgspec.json.decode(m.value)["seq"]: m.timestamp for m in cluster.messages("t")}
    assert got == {i: round((T0.timestamp() + s) * 1000) for i, s in enumerate(seconds)}


def test_a_record_timestamp_from_event_time_needs_a_time_field() -> None:
    with pytest.raises(ConfigError, match=r"record_timestamp event needs .*time_field"):
        ReplayConfig.of("x.jsonl", "t", record_timestamp="event")


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
def test_the_broker_keeps_the_event_and_shifted_timestamps_pump_sets(
    broker: Broker, topic_name: str, tmp_path: Path, mode: str
) -> None:
    seconds = [0.0, 2.0, 1.0, 3600.0]
    lines = ride_lines(seconds)
    path = write_lines(tmp_path / "in.jsonl", lines)
    expected = {i: round((T0.timestamp() + s) * 1000) for i, s in enumerate(seconds)}
    for how, topic in (("event", topic_name), ("shifted", topic_name + "-shifted")):
        create_topic(broker.bootstrap, topic, 2)
        before = time.time()
        proc = cli.pump("replay", str(path), "--topic", topic, "--bootstrap-servers", broker.bootstrap, "--key-field", "zone",
                        "--mode", mode, "--time-field", "pickup", "--record-timestamp", how)  # fmt: skip
        assert proc.returncode == 0, proc.stderr.decode()
        got = {msgspec.json.decode(m.value)["seq"]: m.timestamp for m in consume(broker.bootstrap, topic, len(lines))}
        if how == "event":
            assert got == expected
        else:  # the first record now, every gap as it was
            assert before * 1000 - 1 <= got[0] <= time.time() * 1000 + 1
            assert {i: t - got[0] for i, t in got.items()} == {i: t - expected[0] for i, t in expected.items()}
