"""Real TLS for tests: a throwaway CA and server certificate (openssl), and stunnel terminating TLS in front of
a Tansu broker that advertises the stunnel port (Tansu's own TLS flags did not give a working listener)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pump.dev.broker import Broker, _accepts, free_port
from tests.support.tools import require


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={name}"], check=True, capture_output=True)  # fmt: skip
    return cert, key


def make_server_cert(directory: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, cert, ext = (directory / f"server.{x}" for x in ("key", "csr", "pem", "ext"))
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
                    "-out", str(cert), "-days", "2", "-extfile", str(ext)], check=True, capture_output=True)  # fmt: skip
    return cert, key


@contextmanager
def tls_in_front(directory: Path, plain_port: int, tls_port: int | None = None) -> Iterator[tuple[int, Path]]:
    """stunnel terminating TLS on a loopback port in front of ``plain_port``; yields (that port, the CA file)."""
    stunnel = require("stunnel4", "Debian package 'stunnel4'")
    if shutil.which("openssl") is None:
        require("openssl", "Debian package 'openssl'")
    ca = make_ca(directory, "pump-test-ca")
    cert, key = make_server_cert(directory, ca)
    tls_port = tls_port or free_port()
    conf = directory / "stunnel.conf"
    conf.write_text(
        f"foreground = yes\npid =\n[front]\naccept = 127.0.0.1:{tls_port}\nconnect = 127.0.0.1:{plain_port}\n"
        f"cert = {cert}\nkey = {key}\n"
    )
    proc = subprocess.Popen([stunnel, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _accepts("127.0.0.1", tls_port):
            assert proc.poll() is None and time.monotonic() < deadline, "stunnel did not start"
            time.sleep(0.05)
        yield tls_port, ca[0]
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def tls_broker(directory: Path) -> Iterator[tuple[str, Path]]:
    """Yields (bootstrap of the TLS port, the CA file that signed it)."""
    tls_port, plain_port = free_port(), free_port()
    with Broker(port=plain_port, advertised_port=tls_port), tls_in_front(directory, plain_port, tls_port) as (_, ca):
        yield f"127.0.0.1:{tls_port}", ca
