"""Shared fixtures: one real broker process per session, a fresh topic per test; and the line between unit tests and
integration tests, which is whether a test starts a process.

A test that uses a fixture starting a process (a broker, Apache Kafka) is marked ``integration`` by that fixture
(and ``apache_kafka`` where it is Apache Kafka). Every other test must be marked ``integration`` by hand before it may
start a process itself (pump's CLI, a server, a decode process): an unmarked test that tries fails on the spot,
naming itself, so ``make test-unit`` (``-m "not integration"``) never starts one.
"""

from __future__ import annotations

import _posixsubprocess
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from pump.dev.broker import Broker
from tests.support.apache_kafka import KafkaCluster
from tests.support.registry import Apicurio

# CI runs the same examples every time (no flaky red builds); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Fixtures that start a process, and what a test using one (directly or through another fixture) is marked.
PROCESS_FIXTURES: dict[str, tuple[str, ...]] = {
    "broker": ("integration",),
    "kafka": ("integration", "apache_kafka"),
    "kafka3": ("integration", "apache_kafka"),
    "registry": ("integration",),
}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            for marker in PROCESS_FIXTURES.get(name, ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unmarked test is a unit test: every way Python starts a process fails it, naming the test."""
    if request.node.get_closest_marker("integration") is not None:
        return

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError(f"{request.node.nodeid} starts a process: mark it integration (or use a fixture that does)")

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
    monkeypatch.setattr(_posixsubprocess, "fork_exec", refuse)  # multiprocessing's spawn
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        monkeypatch.setattr(os, name, refuse)


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with Broker() as b:
        yield b


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One Apache Kafka node (combined broker and controller) for the session; skipped without java and mvn."""
    with KafkaCluster(1, tmp_path_factory.mktemp("kafka")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apicurio]:
    """A real Schema Registry (Apicurio's Confluent-compatible API) for the session; skipped without java and mvn."""
    with Apicurio(tmp_path_factory.mktemp("registry")) as r:
        yield r


@pytest.fixture(scope="module")
def kafka3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes (each broker and controller), for the tests that stop brokers; one per module."""
    with KafkaCluster(3, tmp_path_factory.mktemp("kafka3")) as cluster:
        yield cluster


@pytest.fixture
def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
