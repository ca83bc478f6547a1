"""``http://`` and ``https://`` inputs, from a real HTTP server process (``tests/support/httpserver.py``): streamed, read in
ranges where the server takes them, a dropped connection resumed at the byte reached, nothing sent twice."""

from __future__ import annotations

import collections
import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from pump.dev.broker import Broker
from pump.dev.synth import write_parquet
from tests.support import cli
from tests.support.builders import keyed_lines
from tests.support.httpserver import serving
from tests.support.kafka import consume, create_topic

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("www")
    lines = b"\n".join(keyed_lines(40_000, pad=True)) + b"\n"
    (folder / "rides.jsonl").write_bytes(lines)
    (folder / "rides.drop.jsonl").write_bytes(lines)  # the server cuts its first full body halfway, once
    (folder / "rides.jsonl.gz").write_bytes(gzip.compress(lines))
    write_parquet(str(folder / "trips.parquet"), 2000, row_group_rows=500)
    return folder


@pytest.fixture
def ranged(files: Path) -> Iterator[str]:
    with serving(files) as base:
        yield base


def replay(url: str, broker: Broker, topic: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return cli.pump("replay", url, "--topic", topic, "--bootstrap-servers", broker.bootstrap, *extra)


def test_jsonl_gzip_and_parquet_over_http_arrive_whole(ranged: str, broker: Broker, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, 2)
    for name, count in (("rides.jsonl", 40_000), ("rides.jsonl.gz", 40_000), ("trips.parquet", 2000)):
        proc = replay(f"{ranged}/{name}", broker, topic_name)
        assert proc.returncode == 0, proc.stderr.decode()
        assert f"{count:,} decoded" in proc.stdout.decode()
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic_name, 82_000))
    assert got.total() == 82_000 and all(got[line] == 2 for line in keyed_lines(40_000, pad=True))


def test_a_connection_dropped_mid_body_is_resumed_at_the_byte_reached(ranged: str, broker: Broker, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name, 2)
    proc = replay(f"{ranged}/rides.drop.jsonl", broker, topic_name, "--key-field", "user", "-v")
    assert proc.returncode == 0, proc.stderr.decode()
    assert f"pump.input: {ranged}/rides.drop.jsonl: read failed at byte 0 (" in proc.stderr.decode(), "no drop happened"
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic_name, 40_000))
    assert got == collections.Counter(keyed_lines(40_000, pad=True)), "a record missing or sent twice"


def test_without_ranges_a_resume_reads_up_to_the_checkpoint_and_sends_the_rest_once(
    files: Path, broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = keyed_lines(40_000, pad=True)
    checkpoint = tmp_path / "cp.json"
    create_topic(broker.bootstrap, topic_name, 1)
    with serving(files, "--no-range") as base:
        url = f"{base}/rides.jsonl"
        first = replay(url, broker, topic_name, "--limit", "15000", "--checkpoint", str(checkpoint))
        rest = replay(url, broker, topic_name, "--checkpoint", str(checkpoint))
        assert (first.returncode, rest.returncode) == (0, 0), rest.stderr.decode()
    saved = msgspec.json.decode(checkpoint.read_bytes())["files"][url]
    assert saved["done"] and saved["line"] == 40_001
    assert [m.value for m in consume(broker.bootstrap, topic_name, 40_000)] == lines


def test_a_missing_file_is_one_line(ranged: str) -> None:
    proc = cli.pump("replay", f"{ranged}/nope.jsonl", "--topic", "t", "--bootstrap-servers", "127.0.0.1:1")
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [f"pump: {ranged}/nope.jsonl: not found (HTTP 404)"]
