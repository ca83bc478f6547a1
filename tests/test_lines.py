"""``--format lines`` and ``--key-delimiter``: lines as they are, as kcat sends them; and record batches framed in
Python (``recordframing``), read back by aiokafka's own reader."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

import pytest

from pump import ReplayConfig, replay
from pump.decode.plainlines import LinesDecoder
from pump.errors import ConfigError
from pump.input import Chunk
from pump.output.kafka.recordframing import frame_values
from pump.testing import MemoryCluster
from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.framing import read_back
from tests.support.kafka import consume, create_topic
from tests.support.tools import require


def chunk(data: bytes, first_line: int = 1) -> Chunk:
    return Chunk("in.txt", "lines", None, first_line, 0, data, len(data), data.count(b"\n"))


def test_values_framed_in_python_read_back_as_sent_across_batches() -> None:
    values = [b"v" * n for n in range(1, 400)] + [b"\x00\n\xff" * 2000]
    framed = frame_values(2, values, 7, room=30_000, cap=150, max_value=1 << 20)
    assert framed is not None and len(framed) > 3 and {f[0] for f in framed} == {2}
    assert read_back(framed) == [(None, v) for v in values]
    assert [line for f in framed for line in f[4]] == list(range(7, 7 + len(values)))


def test_what_no_batch_can_hold_is_left_to_aiokafka() -> None:
    assert frame_values(0, [b"x" * 100], 1, room=1000, cap=10, max_value=50) is None  # over --max-message-bytes
    assert frame_values(0, [b"x" * 2000], 1, room=1000, cap=10, max_value=1 << 20) is None  # over the batch


def test_lines_are_values_as_they_are_and_a_key_delimiter_splits_at_the_first() -> None:
    parsed = LinesDecoder().decode(chunk(b'a b\r\n{"not": json\n\nlast'), columnar=False)
    assert parsed.records == [(None, b"a b\r", 1), (None, b'{"not": json', 2), (None, b"last", 4)] and parsed.blank == 1
    fast = LinesDecoder().decode(chunk(b"x\ny\n", 10), columnar=True)
    assert fast.values == [b"x", b"y"] and fast.records == []
    keyed = LinesDecoder("::").decode(chunk(b"k1::v::1\nnokey\n::empty key\n"), columnar=True)
    assert keyed.records == [(b"k1", b"v::1", 1), (None, b"nokey", 2), (b"", b"empty key", 3)]


def test_key_delimiter_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(ConfigError, match="give one"):
        ReplayConfig.of("in.txt", "t", key_delimiter=":", key_field="id")
    with pytest.raises(ConfigError, match="not csv"):
        ReplayConfig.of("in.txt", "t", key_delimiter=":", format="csv")
    with pytest.raises(ConfigError, match="without a line end"):
        ReplayConfig.of("in.txt", "t", key_delimiter="")


async def test_json_lines_with_a_key_before_each_are_validated_after_it(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    path.write_bytes(b'user-1\t{"a": 1}\nuser-2\t{"a": 2\n{"b": 3}\n')
    cluster = MemoryCluster()
    report = await replay(ReplayConfig.of(str(path), "t", key_delimiter="tab"), cluster=cluster)
    assert [(m.key, m.value) for m in cluster.messages("t")] == [(b"user-1", b'{"a": 1}'), (None, b'{"b": 3}')]
    assert report.invalid == 1 and ":2" in report.invalid_examples[0]


@pytest.mark.integration
@pytest.mark.apache_kafka
def test_pump_sends_what_kcat_sends_from_the_same_file(kafka: KafkaCluster, topic_name: str, tmp_path: Path) -> None:
    kcat = require("kcat", "kcat")
    path = tmp_path / "app.log"
    lines = [f"host-{i % 7}:line {i} with : inside and ü".encode() for i in range(5000)] + [b"no delimiter here"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    for topic in (topic_name, topic_name + "-kcat"):
        create_topic(kafka.bootstrap, topic, 3)
    proc = cli.pump("replay", str(path), "--format", "lines", "--key-delimiter", ":", "--topic", topic_name,
                    "--bootstrap-servers", kafka.bootstrap, "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    subprocess.run([kcat, "-P", "-b", kafka.bootstrap, "-t", topic_name + "-kcat", "-K", ":", "-l", str(path)], check=True,
                   timeout=60, capture_output=True)  # fmt: skip
    ours = consume(kafka.bootstrap, topic_name, len(lines))
    theirs = consume(kafka.bootstrap, topic_name + "-kcat", len(lines))
    assert collections.Counter((m.key, m.value) for m in ours) == collections.Counter((m.key, m.value) for m in theirs)
    by_key = collections.defaultdict(list)
    for m in sorted(ours, key=lambda m: (m.partition, m.offset)):
        by_key[m.key].append((m.partition, m.value))
    assert all(len({p for p, _ in got}) == 1 for got in by_key.values() if got[0][1] != b"no delimiter here")
