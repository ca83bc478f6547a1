"""A small HTTP file server for the tests, run as a process: ``python tests/support/httpserver.py DIR PORT [--no-range]``
(``serving(folder)`` starts one and gives its base URL).

It serves DIR's files with Content-Length and Last-Modified, answers Range requests (206) unless ``--no-range``,
and, for a file whose name contains ``.drop.``, cuts the connection once, halfway through its first full body,
as a network that drops does.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE = re.compile(r"bytes=(\d+)-(\d*)")
dropped: set[str] = set()


class Handler(SimpleHTTPRequestHandler):
    ranges = True

    def log_message(self, *args: object) -> None:
        return None

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "not found")
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        match = RANGE.fullmatch(self.headers.get("Range", "")) if self.ranges else None
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        if self.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", email.utils.formatdate(os.path.getmtime(path), usegmt=True))
        self.end_headers()
        if not body:
            return
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        if ".drop." in path and path not in dropped and len(data) > 1000:
            dropped.add(path)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(data)


@contextlib.contextmanager
def serving(folder: Path, *flags: str) -> Iterator[str]:
    """This server as a process, serving ``folder``: its base URL while the block runs."""
    from pump.dev.broker import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, str(folder), str(port), *flags], stdout=subprocess.PIPE)
    assert server.stdout is not None and server.stdout.readline() == b"ready\n"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def main() -> None:
    folder, port = sys.argv[1], int(sys.argv[2])
    Handler.ranges = "--no-range" not in sys.argv
    os.chdir(folder)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
