"""Shared fixtures: one real broker process per session, a fresh topic per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

from pump.dev.broker import Broker
from tests.apache_kafka import KafkaCluster

# CI runs the same examples every time (no flaky red builds); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with Broker() as b:
        yield b


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One Apache Kafka node (combined broker and controller) for the session; skipped without java and mvn."""
    with KafkaCluster(1, tmp_path_factory.mktemp("kafka")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kafka3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes (each broker and controller), for the tests that stop brokers; one per module."""
    with KafkaCluster(3, tmp_path_factory.mktemp("kafka3")) as cluster:
        yield cluster


@pytest.fixture
def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
