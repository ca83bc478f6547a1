"""Serving the metrics: an HTTP endpoint while the replay runs (and ``linger`` seconds after,
so the last scrape sees the final values), and a push to a Pushgateway at the end, the
Prometheus convention for batch jobs. Binding and stopping the server run on a thread."""

from __future__ import annotations

import asyncio
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, push_to_gateway, start_http_server

from pump.config import ObserveSettings, config_error, verbatim


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise config_error(f"{{metrics_addr}} {verbatim(repr(addr))}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


class Exporter:
    """``async with Exporter(...)``: serves while the block runs; ``finish()`` pushes and lingers."""

    def __init__(self, registry: CollectorRegistry, settings: ObserveSettings, topic: str) -> None:
        self.registry = registry
        self.settings = settings
        self.topic = topic
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    async def __aenter__(self) -> Exporter:
        if self.settings.metrics_addr is not None:
            host, port = parse_addr(self.settings.metrics_addr)
            try:
                self._server, self._thread = await asyncio.to_thread(start_http_server, port, host, registry=self.registry)
            except OSError as exc:
                raise config_error(
                    f"{{metrics_addr}} {verbatim(self.settings.metrics_addr)}: {verbatim(exc.strerror or exc)}"
                ) from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._stop, self._server, self._thread)
            self._server = self._thread = None

    @staticmethod
    def _stop(server: WSGIServer, thread: threading.Thread | None) -> None:
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)

    async def finish(self) -> str | None:
        """Push (if asked), then keep serving for ``metrics_linger`` seconds. Returns a warning, if any."""
        warning = None
        if self.settings.pushgateway:
            try:
                await asyncio.to_thread(
                    push_to_gateway, self.settings.pushgateway, job="pump", registry=self.registry,
                    grouping_key={"topic": self.topic},
                )  # fmt: skip
            except OSError as exc:
                warning = f"could not push metrics to {self.settings.pushgateway}: {exc}"
        if self._server is not None and self.settings.metrics_linger > 0:
            await asyncio.sleep(self.settings.metrics_linger)
        return warning
