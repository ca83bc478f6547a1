"""Running pump's command line as a user does: a real process, its output, its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONWARNINGS": "error", "PYTHONPATH": str(ROOT)}
    env.pop("PUMP_SASL_PASSWORD", None)
    return {**env, **(extra or {})}


def pump(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 120,
         cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    """``pump ARGS...`` to its end: ``.returncode``, ``.stdout``, ``.stderr``."""
    cmd = [sys.executable, "-m", "pump", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=_env(env), cwd=cwd)


def start(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    """``pump ARGS...`` in the background (stdout and stderr piped unless told otherwise)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "pump", *args], env=_env(env), **popen)


def stderr_lines(proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    return proc.stderr.decode().strip().splitlines()


def report_of(path: Path) -> dict[str, Any]:
    """The report ``--report-json`` wrote."""
    return msgspec.json.decode(path.read_bytes())  # type: ignore[no-any-return]
