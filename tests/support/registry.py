"""A real Schema Registry for tests and benchmarks: Apicurio Registry (Confluent's API at ``/apis/ccompat/v7``), a
Quarkus app run as a plain JVM process on loopback, storage in memory.

It comes from Maven Central (``io.apicurio:apicurio-registry-app``, classifier ``all``, a tar.gz: its parent POM is
not served, so ``dependency:get -Dtransitive=false`` fetches it, not ``dependency:unpack``), unpacked once into the
cache folder beside Apache Kafka's jars (``$PUMP_KAFKA_CACHE``, default ``~/.cache/pump``). Both its HTTP and its
management listeners are bound to loopback ports (it takes every interface and port 9000 otherwise). Its global
compatibility is NONE where Confluent's is BACKWARD: tests set what they need. Schema ids are not consecutive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

from tests.support.apache_kafka import free_port
from tests.support.tools import require

VERSION = "3.0.9"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"


def app() -> Path:
    """The unpacked app's folder (its runner jar inside), fetched with Maven the first time."""
    require("java", "Java 17 (Debian package openjdk-17-jre-headless)")
    mvn = require("mvn", "Maven (Debian package maven)")
    folder = Path(os.environ.get("PUMP_KAFKA_CACHE", Path.home() / ".cache" / "pump")) / f"apicurio-{VERSION}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    proc = subprocess.run([mvn, "-q", "-B", "dependency:get", "-Dtransitive=false", f"-Dartifact={ARTIFACT}"],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(
            f"fetching Apicurio Registry {VERSION} with Maven failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    repo = Path.home() / ".m2" / "repository" / "io" / "apicurio" / "apicurio-registry-app" / VERSION
    with tarfile.open(repo / f"apicurio-registry-app-{VERSION}-all.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    (folder / ".complete").write_text(VERSION)
    return folder


def _runner(folder: Path) -> Path:
    return next(folder.rglob(f"apicurio-registry-app-{VERSION}-runner.jar"))


class Apicurio:
    """``with Apicurio(folder) as r: r.url`` (the Confluent-compatible base URL)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.management = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/apis/ccompat/v7"

    def __enter__(self) -> Apicurio:
        jar = _runner(app())
        self.folder.mkdir(parents=True, exist_ok=True)
        cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={self.port}",
               "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={self.management}",
               "-jar", str(jar)]  # fmt: skip
        with open(self.folder / "registry.log", "wb") as log:
            self.process = subprocess.Popen(cmd, cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, within: float = 90) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Apicurio Registry exited {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/subjects", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Apicurio Registry not ready within {within:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        log = self.folder / "registry.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        """``BACKWARD``, ``NONE``...: for one subject, or the registry's global default."""
        path = f"/config/{subject}" if subject else "/config"
        request = urllib.request.Request(self.url + path, data=f'{{"compatibility": "{level}"}}'.encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()
