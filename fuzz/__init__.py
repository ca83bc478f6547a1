"""Coverage-guided fuzzing (atheris, libFuzzer) of the decoders: ``make fuzz``. Not part of ``make test``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def run(target: Callable[[bytes], None], seeds: list[bytes]) -> None:
    """libFuzzer's command line (``sys.argv``); with no corpus directory given, a fresh one holding ``seeds``."""
    import tempfile

    import atheris

    args = sys.argv
    if not any(Path(a).is_dir() or Path(a).is_file() for a in args[1:] if not a.startswith("-")):
        corpus = Path(tempfile.mkdtemp(prefix="pump-fuzz-"))
        for i, seed in enumerate(seeds):
            (corpus / f"seed-{i}").write_bytes(seed)
        args = [*args, str(corpus)]
    atheris.Setup(args, target)
    atheris.Fuzz()
