"""pyarrow imported without numpy in pump's own process (``arrowlib``): each case in a fresh interpreter, since
what a process has imported cannot be undone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pump.dev.broker import Broker

pytest.importorskip("pyarrow")
pytest.importorskip("numpy")  # the dev and CI environments have it (matplotlib's); without it there is nothing to hide


def imported_after(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@pytest.mark.integration
def test_the_command_line_loads_pyarrow_without_numpy_and_numpy_stays_importable() -> None:
    out = imported_after(
        "import sys\n"
        "from pump import arrowlib\n"
        "arrowlib.skip_numpy()\n"
        "assert arrowlib.load('pyarrow.csv', 'pyarrow.compute', 'pyarrow.parquet')\n"
        "import pyarrow.compute as pc, pyarrow as pa\n"
        "print('numpy' in sys.modules, pc.sum(pa.array([1, 2])).as_py(), end=' ')\n"
        "import numpy\n"
        "print(numpy.arange(3).sum())"
    )
    assert out == "False 3 3"


@pytest.mark.integration
def test_a_library_caller_and_a_numpy_imported_before_are_left_alone() -> None:
    library = "import sys\nfrom pump import arrowlib\narrowlib.load('pyarrow.csv')\nprint('numpy' in sys.modules)"
    assert imported_after(library) == "True"
    out = imported_after(
        "import sys, numpy\nfrom pump import arrowlib\narrowlib.skip_numpy()\narrowlib.load()\n"
        "import pyarrow as pa\nprint(pa.array(numpy.arange(3)).to_pylist())"
    )
    assert out == "[0, 1, 2]"


def test_a_csv_replay_from_the_command_line_never_imports_numpy_and_allocates_with_malloc(
    tmp_path: Path, broker: Broker, topic_name: str
) -> None:
    rows = tmp_path / "rides.csv"
    rows.write_text("a,b\n1,x\n2,y\n")
    args = ["replay", str(rows), "--topic", topic_name, "--bootstrap-servers", broker.bootstrap]
    args += ["--create-topic", "--no-progress"]
    code = f"import sys\nfrom pump.cli import main\nrc = main({args!r})\n"
    pool = "import pyarrow as pa\nprint(rc, 'numpy' in sys.modules, pa.default_memory_pool().backend_name)"
    assert imported_after(code + pool).splitlines()[-1] == "0 False system"  # the C library's allocator (cli)
