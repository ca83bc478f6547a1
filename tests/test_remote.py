"""Inputs on shared storage: ``s3://`` objects, read through fsspec from a real S3-compatible server (moto's server
mode, a process of its own), with credentials from the standard environment, never shown."""

from __future__ import annotations

import collections
import gzip
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from pump.dev.broker import Broker, free_port
from tests.support import cli
from tests.support.builders import keyed_lines
from tests.support.kafka import consume, create_topic

pytestmark = pytest.mark.integration
SECRET = "s3cr3t-never-shown-0123456789"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server on a free port; the environment a client needs to reach it (as AWS's tools read it)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "pump-test", "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    try:
        yield env
    finally:
        server.terminate()
        server.wait(10)


def put(env: dict[str, str], bucket: str, objects: dict[str, bytes]) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=SECRET, region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket=bucket)
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def test_s3_objects_replay_whole_resume_by_url_and_shard_by_byte_range(
    s3: dict[str, str], broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = keyed_lines(30_000, pad=True)
    plain = b"\n".join(lines[:20_000]) + b"\n"
    zipped = gzip.compress(b"\n".join(lines[20_000:]) + b"\n")
    csv = b"user,seq\n" + b"".join(b"c%d,%d\n" % (i % 5, i) for i in range(500))
    put(s3, "trips", {"2025/plain.jsonl": plain, "2025/more.jsonl.gz": zipped, "2025/rows.csv": csv})
    urls = ["s3://trips/2025/plain.jsonl", "s3://trips/2025/more.jsonl.gz", "s3://trips/2025/rows.csv"]
    create_topic(broker.bootstrap, topic_name, 3)
    checkpoint = tmp_path / "cp.json"
    common = ["--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user", "--chunk-bytes", "65536",
              "-v"]  # fmt: skip
    for index in range(2):  # shard 0 reads bytes of plain.jsonl up to the middle, shard 1 the rest and the others
        proc = cli.pump("replay", *urls, *common, "--shard", f"{index}/2", "--checkpoint", f"{checkpoint}.{index}", env=s3)
        assert proc.returncode == 0, proc.stderr.decode()
        assert SECRET not in proc.stdout.decode() + proc.stderr.decode()
    csv_values = [msgspec.json.encode({"user": f"c{i % 5}", "seq": str(i)}) for i in range(500)]
    got = collections.Counter(m.value for m in consume(broker.bootstrap, topic_name, 30_500))
    assert got == collections.Counter(lines + csv_values), "the two shards together did not send every record once"
    saved = [msgspec.json.decode((tmp_path / f"cp.json.{i}").read_bytes())["files"] for i in range(2)]
    assert set(saved[0]) == {urls[1], urls[0]} and set(saved[1]) == {urls[0], urls[2]}, "kept by URL, plain.jsonl cut"
    assert all(f["done"] for files in saved for f in files.values())
    again = cli.pump("replay", *urls, *common, "--shard", "1/2", "--checkpoint", f"{checkpoint}.1", "--report-json",
                     str(tmp_path / "r.json"), env=s3)  # fmt: skip
    assert again.returncode == 0 and cli.report_of(tmp_path / "r.json")["records"] == 0, "a finished resume sent again"


def test_a_missing_object_or_bucket_is_one_line_before_anything_is_sent(s3: dict[str, str], tmp_path: Path) -> None:
    put(s3, "there", {"a.jsonl": b'{"a": 1}\n'})
    for url in ("s3://there/missing.jsonl", "s3://no-such-bucket/a.jsonl"):
        proc = cli.pump("replay", "s3://there/a.jsonl", url, "--topic", "t", "--bootstrap-servers", "127.0.0.1:1", env=s3)
        assert proc.returncode == 2
        assert cli.stderr_lines(proc) == [f"pump: {url}: no such object (or bucket)"]


def test_without_s3fs_the_error_names_the_extra_to_install(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked" / "s3fs"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('s3fs is blocked here', name='s3fs')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocked.parent), str(cli.ROOT)])}
    proc = cli.pump("replay", "s3://b/k.jsonl", "--topic", "t", env=env)
    assert proc.returncode == 2
    assert cli.stderr_lines(proc) == ["pump: s3://b/k.jsonl: reading s3:// needs s3fs: pip install 'pump[s3]'"]


def test_an_s3_prefix_and_a_glob_replay_their_objects_by_name_each_in_its_own_format(
    s3: dict[str, str], broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"user": ["p1", "p2"], "n": [1, 2]}), tmp_path / "rows.parquet")
    put(s3, "landing", {"rides/2025/01.jsonl": b'{"user": "j1"}\n{"user": "j2"}\n', "rides/2025/02.csv": b"user\nc1\n",
                        "rides/2025/03.parquet": (tmp_path / "rows.parquet").read_bytes(), "rides/2025/_SUCCESS": b"",
                        "rides/2025/_temporary/04.jsonl": b'{"user": "half-written"}\n',
                        "rides/2024/12/31.jsonl": b'{"user": "y1"}\n'})  # fmt: skip
    create_topic(broker.bootstrap, topic_name, 1)
    common = ["--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--key-field", "user"]
    prefix = cli.pump("replay", "s3://landing/rides/2025/", *common, "--report-json", str(tmp_path / "r.json"), env=s3)
    assert prefix.returncode == 0, prefix.stderr.decode()
    assert cli.report_of(tmp_path / "r.json")["files"] == 3
    pattern = cli.pump("replay", "s3://landing/rides/**/*.jsonl", *common, env=s3)
    assert pattern.returncode == 0, pattern.stderr.decode()
    users = [
        msgspec.json.decode(m.value)["user"] for m in sorted(consume(broker.bootstrap, topic_name, 8), key=lambda m: m.offset)
    ]
    assert users == ["j1", "j2", "c1", "p1", "p2", "y1", "j1", "j2"]  # by name: 2024/12/31 before 2025/01
    nothing = cli.pump("replay", "s3://landing/rides/*.csv", *common, env=s3)
    assert nothing.returncode == 2 and cli.stderr_lines(nothing) == ["pump: s3://landing/rides/*.csv: matches no object"]


def test_a_watched_s3_prefix_replays_objects_put_later_each_once(
    s3: dict[str, str], broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    put(s3, "drop", {"rides/01.jsonl": b'{"user": "a"}\n', "rides/_SUCCESS": b""})
    create_topic(broker.bootstrap, topic_name, 1)
    with cli.start("replay", "--watch", "s3://drop/rides/", "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                   "--no-progress", "--poll-interval", "0.3", "--idle-exit", "4", "--checkpoint", str(tmp_path / "cp.json"),
                   env=s3, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # fmt: skip
        consume(broker.bootstrap, topic_name, 1)
        put(s3, "drop", {"rides/02.jsonl": b'{"user": "b"}\n{"user": "c"}\n', "rides/.03.jsonl": b'{"user": "hidden"}\n'})
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode() + err.decode()
    again = cli.pump("replay", "--watch", "s3://drop/rides/", "--topic", topic_name, "--bootstrap-servers", broker.bootstrap,
                     "--idle-exit", "1", "--checkpoint", str(tmp_path / "cp.json"), env=s3)  # fmt: skip
    assert again.returncode == 0, again.stderr.decode()
    got = sorted(consume(broker.bootstrap, topic_name, 3), key=lambda m: m.offset)
    assert [msgspec.json.decode(m.value)["user"] for m in got] == ["a", "b", "c"]  # the rerun found them done
