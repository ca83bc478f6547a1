"""TLS for real (stunnel in front of the broker) and SASL rejection: clear errors, no secrets leaked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pump.dev.broker import Broker
from tests.support import cli
from tests.support.kafka import consume
from tests.support.tls import make_ca, tls_broker

pytestmark = pytest.mark.integration
SECRET = "s3cr3t-pump-password"


def pump(*args: str, password: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return cli.pump("replay", *args, env={"PUMP_SASL_PASSWORD": password} if password is not None else None, timeout=60)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("tls")
    with tls_broker(directory) as (bootstrap, ca):
        yield bootstrap, ca, make_ca(directory, "someone-else")[0]


def test_tls_with_the_right_ca_delivers(tls: tuple[str, Path, Path], tmp_path: Path) -> None:
    bootstrap, ca, _ = tls
    lines = [b'{"n": %d}' % i for i in range(500)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "tls", "--bootstrap-servers", bootstrap, "--create-topic",
                "--security-protocol", "SSL", "--ssl-cafile", str(ca))  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    got = consume(bootstrap, "tls", 500, **{"security.protocol": "SSL", "ssl.ca.location": str(ca)})
    assert sorted(m.value for m in got) == sorted(lines)


def test_tls_with_another_ca_fails_with_status_2_and_says_why(tls: tuple[str, Path, Path], tmp_path: Path) -> None:
    bootstrap, _, other = tls
    (tmp_path / "in.jsonl").write_bytes(b"{}\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "tls", "--bootstrap-servers", bootstrap,
                "--security-protocol", "SSL", "--ssl-cafile", str(other))  # fmt: skip
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, err
    assert "TLS certificate not trusted" in err[0] and "--ssl-cafile" in err[0]


def test_plaintext_client_to_a_tls_listener_is_a_clear_error(tls: tuple[str, Path, Path], tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"{}\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "tls", "--bootstrap-servers", tls[0])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert proc.stderr.decode().startswith(f"pump: cannot use Kafka at {tls[0]}: ")


@pytest.fixture(scope="module")
def auth_broker():  # type: ignore[no-untyped-def]
    with Broker(extra_args=("--authentication",)) as broker:
        yield broker


def test_a_broker_requiring_authentication_rejects_an_anonymous_client_clearly(auth_broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"{}\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--bootstrap-servers", auth_broker.bootstrap)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, err
    assert "may require authentication" in err[0] and "--security-protocol" in err[0]


def test_rejected_sasl_login_is_clear_and_the_password_never_appears(auth_broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"{}\n")
    report = tmp_path / "report.json"
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--bootstrap-servers", auth_broker.bootstrap,
                "--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "nobody",
                "--report-json", str(report), "-v", password=SECRET)  # fmt: skip
    assert proc.returncode == 2
    assert "SASL authentication failed" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()
    assert SECRET not in proc.stdout.decode() + proc.stderr.decode()
    assert not report.exists() or SECRET not in report.read_text()


def test_password_file_is_read_and_sasl_options_are_checked(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"{}\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--sasl-username", "u")
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [
        "pump: --sasl-mechanism and --sasl-username need --security-protocol SASL_PLAINTEXT or SASL_SSL"
    ]
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--security-protocol", "SASL_SSL", "--sasl-username", "u")
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [
        "pump: --security-protocol SASL_SSL needs --sasl-username and $PUMP_SASL_PASSWORD or --sasl-password-file"
    ]
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--security-protocol", "SASL_PLAINTEXT", "--sasl-username", "u",
                "--sasl-password-file", str(tmp_path / "missing"))  # fmt: skip
    assert proc.returncode == 2 and cli.stderr_lines(proc) == [
        f"pump: --sasl-password-file {tmp_path / 'missing'}: No such file or directory"
    ]
    (tmp_path / "pw").write_text("from-a-file\n")
    proc = pump(str(tmp_path / "in.jsonl"), "--topic", "t", "--security-protocol", "SASL_PLAINTEXT", "--sasl-username", "u",
                "--sasl-password-file", str(tmp_path / "pw"), "--bootstrap-servers", "127.0.0.1:1")  # fmt: skip
    assert proc.returncode == 2 and "cannot use Kafka at 127.0.0.1:1" in proc.stderr.decode()  # got past the settings
