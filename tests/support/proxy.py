"""A small TCP proxy for fault tests: forwards loopback connections to a broker, and on demand
delays every chunk or cuts every open connection. Runs its own event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
import time

from pump.dev.broker import free_port


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.delay = 0.0
        self.cuts = 0
        self.connections = 0
        self.forwarded = 0  # bytes, both ways
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def cut_all(self) -> int:
        """Reset every open connection; returns how many were cut."""
        done = asyncio.run_coroutine_threadsafe(self._cut(), self._loop)
        return done.result(10)

    async def _cut(self) -> int:
        writers = list(self._writers)
        for w in writers:
            w.transport.abort()
        self.cuts += len(writers)
        return len(writers)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, broker_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    w.write(data)
                    self.forwarded += len(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.transport.abort()

        await asyncio.gather(pipe(client_r, broker_w), pipe(broker_r, client_w))
        self._writers -= {client_w, broker_w}

    def wait_forwarded(self, nbytes: int, within: float = 60.0) -> None:
        """Returns once ``nbytes`` went through (records are flowing, set-up is over)."""
        deadline = time.monotonic() + within
        while self.forwarded < nbytes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.forwarded} bytes went through the proxy")
            time.sleep(0.01)
