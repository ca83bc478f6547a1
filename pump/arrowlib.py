"""pyarrow's import, in one place, so that pump's command line can keep numpy out of it.

pyarrow imports numpy wherever numpy is installed, for its numpy interop, which pump never uses: 13-15 MB of
memory (``import pyarrow.compute``: 69 MB peak with numpy, 56 without) and about 90 ms of start-up for a
replay of CSV or Parquet. The command line calls ``skip_numpy()``; the first ``load()`` then imports pyarrow
with numpy hidden, unless numpy is imported already (a user's schema module may have), and numpy stays
importable after it. pyarrow then has no numpy interop in that process (``to_numpy`` refuses). The library
leaves its caller's process as it is.
"""

from __future__ import annotations

import importlib
import sys

_skip_numpy = False


def skip_numpy() -> None:
    """Import pyarrow without numpy from now on (pump's own process, not a library caller's)."""
    global _skip_numpy
    _skip_numpy = True


def load(*modules: str) -> bool:
    """Import pyarrow and ``modules`` (``pyarrow.csv``...); False if pyarrow is not installed."""
    hide = _skip_numpy and "numpy" not in sys.modules and "pyarrow" not in sys.modules
    if hide:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # what makes ``import numpy`` raise ImportError
    try:
        for name in ("pyarrow", *modules):
            importlib.import_module(name)
    except ImportError:
        return False
    finally:
        if hide and sys.modules.get("numpy", 0) is None:
            del sys.modules["numpy"]
    return True
