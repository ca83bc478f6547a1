"""Live input: a line written to pump's stdin (a pipe) or to a FIFO is sent as it arrives, not when the input ends or
a chunk's worth has come (each record's Kafka timestamp, the producer's clock at sending, against the time it was
written)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import msgspec
import pytest

from pump.dev.broker import Broker
from tests.support import cli
from tests.support.kafka import consume, create_topic

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("via", ["stdin", "fifo"])
def test_a_slow_writer_has_each_line_sent_as_it_arrives(broker: Broker, topic_name: str, tmp_path: Path, via: str) -> None:
    create_topic(broker.bootstrap, topic_name, 1)
    fifo = tmp_path / "live"
    if via == "fifo":
        os.mkfifo(fifo)
    source = "-" if via == "stdin" else str(fifo)
    written: list[float] = []
    with cli.start("replay", source, "--topic", topic_name, "--bootstrap-servers", broker.bootstrap, "--no-progress",
                   stdin=subprocess.PIPE) as proc:  # fmt: skip
        assert proc.stdin is not None
        writer: BinaryIO = proc.stdin if via == "stdin" else open(fifo, "wb")  # noqa: SIM115 - closed below
        for i in range(3):
            time.sleep(0.8)
            writer.write(msgspec.json.encode({"i": i}) + b"\n")
            writer.flush()
            written.append(time.time())
        time.sleep(0.8)  # the input stays open past the last line: nothing waits for its end
        if via == "fifo":
            writer.close()
        out, err = proc.communicate(timeout=60)  # closes stdin: the end of that input
    assert proc.returncode == 0, out.decode() + err.decode()
    got = sorted(consume(broker.bootstrap, topic_name, 3), key=lambda m: m.offset)
    delays = [m.timestamp / 1000 - written[msgspec.json.decode(m.value)["i"]] for m in got]
    assert len(delays) == 3 and max(delays) < 0.4, delays  # lines 0.8 s apart: waiting for more would show it
