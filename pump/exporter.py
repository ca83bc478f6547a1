"""Serving the metrics: an HTTP endpoint while the replay runs (and ``linger`` seconds after,
so the last scrape sees the final values), and a push to a Pushgateway at the end, the
Prometheus convention for batch jobs."""

from __future__ import annotations

import asyncio
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, push_to_gateway, start_http_server

from pump.errors import UsageError


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--metrics-addr {addr!r}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


class Exporter:
    def __init__(self, registry: CollectorRegistry, addr: str | None, pushgateway: str | None, topic: str) -> None:
        self.registry = registry
        self.addr = addr
        self.pushgateway = pushgateway
        self.topic = topic
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.addr is None:
            return
        host, port = parse_addr(self.addr)
        try:
            self._server, self._thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            raise UsageError(f"--metrics-addr {self.addr}: {exc.strerror or exc}") from None

    async def finish(self, linger: float) -> str | None:
        """Push (if asked), then keep serving for ``linger`` seconds. Returns a warning, if any."""
        warning = None
        if self.pushgateway:
            try:
                await asyncio.to_thread(
                    push_to_gateway, self.pushgateway, job="pump", registry=self.registry, grouping_key={"topic": self.topic}
                )
            except OSError as exc:
                warning = f"could not push metrics to {self.pushgateway}: {exc}"
        if self._server is not None and linger > 0:
            await asyncio.sleep(linger)
        return warning

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
