"""pump as a library inside someone else's program: replays side by side keep their own counts, and pump leaves the
application's logging as it found it (docs/python.md's example is run by tests/test_docs.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

import pump
from pump.dev.broker import Broker, free_port
from tests.support.builders import config, keyed_lines, write_lines
from tests.support.kafka import consumed
from tests.support.mockcluster import NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, mock_cluster

pytestmark = pytest.mark.integration


def test_every_public_name_is_exported_and_the_package_is_typed() -> None:
    for name in pump.__all__:
        assert getattr(pump, name) is not None
    for needed in ("Secret", "SecuritySettings", "Interrupted", "ConfigError", "DeliveryError", "Report", "ReplayConfig"):
        assert needed in pump.__all__
    assert (Path(pump.__file__).parent / "py.typed").exists()


async def test_two_replays_at_once_count_only_their_own_retries_and_metrics(broker: Broker, tmp_path: Path) -> None:
    lines = keyed_lines(3000)
    path = write_lines(tmp_path / "in.jsonl", lines)
    calm_registry, faulty_registry = CollectorRegistry(), CollectorRegistry()
    with mock_cluster(3) as faulty:
        faulty.create_topic("faulty", 4)
        faulty.fail_produce(*([NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT] * 3))
        calm_config = config(path, "calm", broker.bootstrap, key_field="user", create_topic=True, chunk_bytes=4096)
        faulty_config = config(path, "faulty", faulty.bootstrap, key_field="user", idempotence="on", chunk_bytes=4096)
        calm, troubled = await asyncio.gather(
            pump.replay(calm_config, registry=calm_registry), pump.replay(faulty_config, registry=faulty_registry)
        )
        assert len(await consumed(faulty.bootstrap, "faulty", 3000)) == 3000
    assert (calm.acknowledged, troubled.acknowledged) == (3000, 3000)
    assert troubled.retries >= 6, "the injected errors did not cause retries"
    assert calm.retries == 0, "one replay counted the other's retries"
    retries = [r.get_sample_value("pump_retries_total", {"topic": t, "mode": "batch"})
               for r, t in ((calm_registry, "calm"), (faulty_registry, "faulty"))]  # fmt: skip
    assert retries == [0, troubled.retries]
    assert calm_registry.get_sample_value("pump_records_acknowledged_total", {"topic": "faulty", "mode": "batch"}) is None


async def test_pump_leaves_the_applications_loggers_alone_and_their_records_still_reach_it(tmp_path: Path) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root, aiokafka = logging.getLogger(), logging.getLogger("aiokafka")
    before = (aiokafka.level, aiokafka.propagate, list(aiokafka.handlers), root.level)
    keep = Keep(logging.WARNING)
    root.addHandler(keep)
    try:
        path = write_lines(tmp_path / "in.jsonl", [b"{}"])
        port = free_port()
        with pytest.raises(pump.BrokerError, match="connection refused"):
            await pump.replay(config(path, "t", f"127.0.0.1:{port}", connect_timeout=5.0))
    finally:
        root.removeHandler(keep)
    assert (aiokafka.level, aiokafka.propagate, list(aiokafka.handlers), root.level) == before
    assert any(r.name.startswith("aiokafka") and str(port) in r.getMessage() for r in seen), "aiokafka's own log was hidden"
