"""Apache Kafka itself, for tests and benchmarks: KRaft nodes as plain JVM processes on loopback.

The broker and tools come from Maven Central through ``tests/support/apache-kafka/pom.xml``, copied once per
version into a cache folder outside the tree (``$PUMP_KAFKA_CACHE``, default ``~/.cache/pump``); no jar is
committed, and pump itself never needs Java. A node is formatted (``kafka.tools.StorageTool``) and run
(``kafka.Kafka``) with a generated ``server.properties``. The first ``controllers`` nodes (default all) are
combined broker and controller, the others brokers only: with one controller, stopping brokers never costs
the KRaft quorum, so the controller can shrink the in-sync replicas.
Ready means a metadata request through librdkafka lists every broker. Logs stay in each node's folder
and their tails go into failure messages; every process is stopped on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from tests.support.tools import require

POM = Path(__file__).resolve().parent / "apache-kafka" / "pom.xml"
VERSION = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text()).group(1)  # type: ignore[union-attr]
LOG4J = """<Configuration status="warn"><Appenders><File name="f" fileName="${sys:pump.log}"><PatternLayout
pattern="%d{HH:mm:ss.SSS} %p %c{1}: %m%n"/></File></Appenders><Loggers><Root level="info"><AppenderRef ref="f"/>
</Root><Logger name="kafka.request.logger" level="warn"/><Logger name="org.apache.kafka.raft" level="warn"/>
</Loggers></Configuration>"""


def free_port() -> int:
    """A free loopback port below the ephemeral range. A port the kernel hands out for ``bind(0)`` is also one it
    hands out for outgoing connections: in the seconds between choosing it and a node binding it, a connection
    (another node's, a client's) could take it, and the node would fail with "Address already in use"."""
    low, _high = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(10_000, max(low, 10_001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def jars() -> Path:
    """The folder of Kafka's jars, fetched with Maven the first time (needs java and mvn)."""
    require("java", "Java 17 (Debian package openjdk-17-jre-headless)")
    mvn = require("mvn", "Maven (Debian package maven)")
    folder = Path(os.environ.get("PUMP_KAFKA_CACHE", Path.home() / ".cache" / "pump")) / f"kafka-{VERSION}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
           f"-DoutputDirectory={folder}"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"fetching Apache Kafka {VERSION} with Maven failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (folder / ".complete").write_text(VERSION)
    return folder


@dataclass
class Node:
    id: int
    port: int
    controller_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    listeners: dict[str, int] = field(default_factory=dict)  # more listeners (e.g. SASL_SSL) and their ports

    @property
    def log(self) -> Path:
        return self.folder / "server.log"


@dataclass
class KafkaCluster:
    """``size`` nodes, the first ``controllers`` of them also controllers. ``with KafkaCluster(n, folder) as c: c.bootstrap``."""

    size: int
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)  # more server.properties for every node
    listeners: tuple[str, ...] = ()  # more listeners, each named after its security protocol (SASL_SSL, ...)
    format_args: tuple[str, ...] = ()  # more StorageTool format arguments (e.g. --add-scram)
    heap: str = "384m"
    controllers: int = 0  # how many nodes are also controllers (0: every node)
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.jars = jars()
        self.cluster_id = _cluster_id(self.jars)
        self.nodes = [Node(i + 1, free_port(), free_port(), self.folder / f"node{i + 1}", None,
                           {name: free_port() for name in self.listeners}) for i in range(self.size)]  # fmt: skip

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listeners (whose anonymous user a secured cluster makes a super user, for the tests)."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def bootstrap_of(self, listener: str) -> str:
        return ",".join(f"127.0.0.1:{n.listeners[listener]}" for n in self.nodes)

    def __enter__(self) -> KafkaCluster:
        try:
            for node in self.nodes:
                self._format(node)
            for node in self.nodes:
                self.start(node)
            self.wait_ready()
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def properties(self, node: Node) -> str:
        voting = self.nodes[: self.controllers or self.size]
        voters = ",".join(f"{n.id}@127.0.0.1:{n.controller_port}" for n in voting)
        more = "".join(f",{name}://127.0.0.1:{port}" for name, port in node.listeners.items())
        controller = f",CONTROLLER://127.0.0.1:{node.controller_port}" if node in voting else ""
        replicas = str(min(self.size, 3))
        props = {
            "process.roles": "broker,controller" if node in voting else "broker",
            "node.id": str(node.id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port}{controller}{more}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}{more}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            + "".join(f",{n}:{n}" for n in node.listeners),
            "log.dirs": str(node.folder / "data"),
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            **self.settings,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _java(self, node: Node, *args: str) -> list[str]:
        return ["java", "-Xms128m", f"-Xmx{self.heap}", f"-Dpump.log={node.log}",
                f"-Dlog4j2.configurationFile={node.folder / 'log4j2.xml'}", "-cp", f"{self.jars}/*", *args]  # fmt: skip

    def _format(self, node: Node) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        (node.folder / "server.properties").write_text(self.properties(node))
        (node.folder / "log4j2.xml").write_text(LOG4J)
        props = str(node.folder / "server.properties")
        cmd = self._java(node, "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", props, *self.format_args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"formatting node {node.id} failed:\n{proc.stdout}\n{proc.stderr}")

    def start(self, node: Node) -> None:
        with open(node.folder / "stdout.log", "ab") as out:
            node.process = subprocess.Popen(self._java(node, "kafka.Kafka", str(node.folder / "server.properties")),
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip

    def kill(self, node: Node) -> None:
        """SIGKILL, as a crash would."""
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(30)
        node.process = None

    def stop(self, node: Node, timeout: float = 30) -> None:
        if node.process is None:
            return
        if node.process.poll() is None:
            node.process.terminate()
            try:
                node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(30)
        node.process = None

    def stop_all(self, timeout: float = 15) -> None:
        """All nodes at once (one by one, the last would wait for a quorum that is gone), killed after ``timeout``."""
        running = [n for n in self.nodes if n.process is not None and n.process.poll() is None]
        for node in running:
            node.process.terminate()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        for node in running:
            assert node.process is not None
            try:
                node.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(30)
        for node in self.nodes:
            node.process = None

    def wait_ready(self, within: float = 120) -> None:
        """Until a metadata request answers with every broker (each of them started)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + within
        while True:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"Kafka node {node.id} exited with {node.process.returncode}\n{self.tails()}")
            with contextlib.suppress(Exception):
                if len(admin.list_topics(timeout=2).brokers) == sum(n.process is not None for n in self.nodes):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka not ready after {within:.0f} s\n{self.tails()}")
            time.sleep(0.2)

    def tails(self, lines: int = 30) -> str:
        """The end of every node's log, for failure messages."""
        out = []
        for node in self.nodes:
            for log in (node.log, node.folder / "stdout.log"):
                if log.exists():
                    text = log.read_text(errors="replace").splitlines()[-lines:]
                    out.append(f"--- node {node.id} {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def _cluster_id(folder: Path) -> str:
    """A fresh cluster id, made by Kafka's own StorageTool (it has its own format)."""
    proc = subprocess.run(["java", "-cp", f"{folder}/*", "kafka.tools.StorageTool", "random-uuid"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    found = proc.stdout.strip().splitlines()
    return found[-1] if proc.returncode == 0 and found else uuid.uuid4().hex[:22]
