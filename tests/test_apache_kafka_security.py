"""pump against a secured Apache Kafka: SASL_SSL with SCRAM-SHA-512 (users added at format time) and PLAIN,
TLS from a test CA, and ACLs enforced by the StandardAuthorizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from tests.support import cli
from tests.support.apache_kafka import KafkaCluster
from tests.support.builders import keyed_lines, write_lines
from tests.support.kafka import admin, consume, create_topic
from tests.support.tls import make_ca, make_server_cert

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka]
USERS = {"alice": "alice-s3cr3t", "bob": "bob-s3cr3t"}  # alice may write to sec-* topics; bob may only read them


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaCluster, Path]]:
    """(a one-node cluster with a SASL_SSL listener, the CA that signed its certificate)."""
    folder = tmp_path_factory.mktemp("secured")
    ca = make_ca(folder, "pump-test-ca")
    cert, key = make_server_cert(folder, ca)
    (folder / "keystore.pem").write_text(key.read_text() + cert.read_text())
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in USERS.items())
    modules = "org.apache.kafka.common.security"
    settings = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": f"{modules}.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": f"{modules}.plain.PlainLoginModule required {plain_users};",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(folder / "keystore.pem"),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",  # the PLAINTEXT listener, which the tests use to set up and read back
    }
    scram = [
        arg for name, password in USERS.items() for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
    ]
    with KafkaCluster(1, folder / "cluster", settings, ("SASL_SSL",), tuple(scram)) as cluster:
        client = admin(cluster.bootstrap)
        grants = [("alice", AclOperation.ALL), ("bob", AclOperation.DESCRIBE), ("bob", AclOperation.READ)]
        prefix = (ResourceType.TOPIC, "sec-", ResourcePatternType.PREFIXED)
        bindings = [AclBinding(*prefix, f"User:{user}", "*", op, AclPermissionType.ALLOW) for user, op in grants]
        for future in client.create_acls(bindings).values():
            future.result(30)
        yield cluster, ca[0]


def replay_as(secured: tuple[KafkaCluster, Path], topic: str, path: Path, user: str, password: str, *more: str):  # type: ignore[no-untyped-def]
    cluster, ca = secured
    return cli.pump("replay", str(path), "--topic", topic, "--bootstrap-servers", cluster.bootstrap_of("SASL_SSL"),
                    "--security-protocol", "SASL_SSL", "--sasl-username", user, "--ssl-cafile", str(ca), *more,
                    env={"PUMP_SASL_PASSWORD": password})  # fmt: skip


def new_topic(cluster: KafkaCluster, name: str) -> None:
    create_topic(cluster.bootstrap, name, 2)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_an_authorized_user_replays_over_sasl_ssl(secured: tuple[KafkaCluster, Path], tmp_path: Path, mechanism: str) -> None:
    topic = f"sec-{mechanism.lower()}"
    new_topic(secured[0], topic)
    lines = keyed_lines(2000)
    proc = replay_as(secured, topic, write_lines(tmp_path / "in.jsonl", lines), "alice", USERS["alice"], "--sasl-mechanism",
                     mechanism, "--key-field", "user")  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "(acks=all, idempotent)" in proc.stdout.decode() and USERS["alice"] not in proc.stdout.decode() + proc.stderr.decode()
    assert sorted(m.value for m in consume(secured[0].bootstrap, topic, 2000)) == sorted(lines)


def test_a_wrong_password_is_one_line_and_the_password_never_shows(secured: tuple[KafkaCluster, Path], tmp_path: Path) -> None:
    proc = replay_as(secured, "sec-x", write_lines(tmp_path / "in.jsonl", [b"{}"]), "alice", "not-the-password",
                     "--sasl-mechanism", "SCRAM-SHA-512")  # fmt: skip
    assert proc.returncode == 2
    [line] = cli.stderr_lines(proc)
    assert line.startswith(f"pump: cannot use Kafka at {secured[0].bootstrap_of('SASL_SSL')}: SASL authentication failed: ")
    assert "invalid credentials" in line and "not-the-password" not in line


@pytest.mark.parametrize("idempotence", ["auto", "off"])
def test_a_user_without_write_stops_at_once_with_one_line_and_nothing_delivered(
    secured: tuple[KafkaCluster, Path], tmp_path: Path, idempotence: str
) -> None:
    topic = f"sec-readonly-{idempotence}"
    new_topic(secured[0], topic)
    report = tmp_path / "report.json"
    proc = replay_as(secured, topic, write_lines(tmp_path / "in.jsonl", keyed_lines(5000)), "bob", USERS["bob"],
                     "--sasl-mechanism", "SCRAM-SHA-512", "--idempotence", idempotence, "--report-json", str(report))  # fmt: skip
    assert proc.returncode == 2, proc.stdout.decode() + proc.stderr.decode()
    [line] = cli.stderr_lines(proc)
    assert line.startswith(f"pump: user 'bob' is not authorized to write to topic '{topic}' (")
    assert line.endswith("); it needs WRITE on the topic")
    if report.exists():  # with idempotence the broker refuses at once, before any report: nothing was sent
        assert cli.report_of(report)["acknowledged"] == 0
    assert consume(secured[0].bootstrap, topic, 0, within=3) == []
