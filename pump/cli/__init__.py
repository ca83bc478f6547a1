"""The command line: parse arguments, run a command, map errors to exit codes.

Exit status: 0 every line handled; 1 some line invalid or not delivered; 2 usage,
configuration, input or connection error (one line naming the flags, no traceback);
130/143 stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence

from pump._version import __version__
from pump.arrowlib import skip_numpy
from pump.cli import commands
from pump.cli.options import add_bench_arguments, add_replay_arguments, add_setting, flag_of
from pump.config import SETTINGS
from pump.errors import PumpError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"pump: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pump",
        description="Replay CSV, JSON-lines and Parquet datasets into Apache Kafka, fast, accounting for every record.",
    )
    parser.add_argument("--version", action="version", version=f"pump {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_replay_arguments(sub.add_parser("replay", help="replay files or URLs into a topic"))
    p = sub.add_parser("plan", help="show which pieces of the inputs each shard (--shard I/N) replays")
    p.add_argument("paths", nargs="+", metavar="PATH", help=SETTINGS["paths"].help)
    p.add_argument("--shards", type=_positive, required=True, metavar="N", help="how many shards")
    add_setting(p, "format")
    p.add_argument("--json", action="store_true", help="print the assignment as JSON")
    add_bench_arguments(sub.add_parser(
        "bench", help="compare send modes and producer settings against a cluster, side by side",
        description="Every combination of the values listed (comma-separated), --repeat times, interleaved, each run a"
        " whole pump replay into a topic of the bench's own. Other replay options (security, -X, --schema,"
        " --key-field) are passed through to every run. INPUT: a file to replay (default: --rows synthetic rides).",
        allow_abbrev=False,  # --mode is replay's (refused here), not an abbreviation of --modes
    ))  # fmt: skip
    b = sub.add_parser("broker", help="run the embedded development broker in the foreground")
    b.add_argument("--port", type=int, default=9092, help="the port it listens on (default 9092)")
    b.add_argument("--host", default="127.0.0.1", help="the address it listens on (default 127.0.0.1: this machine only)")
    return parser


def configure_logging(verbose: bool) -> None:
    """The command line owns this process's logging: aiokafka's records are made (pump counts retries and
    explains failures from them) but shown only with ``-v``; pump prints its own one-line messages."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.CRITICAL)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def tune_gc() -> None:
    """The command line owns this process's collector too. A replay allocates a few objects per record (a future
    per send in callback mode, tuples, lists) that mostly die young and hold no cycles, so CPython's default of a
    collection every 700 allocations mostly rescans the same long-lived objects. Collect young objects every
    50,000 allocations instead, and move what start-up made (modules, settings) out of the collector's sight
    (``gc.freeze``). Measured (whole processes, alternating, 4 runs each): callback mode 3.37 -> 3.00 s for 200k
    records, batch 4.26 -> 4.11 s for 1M. The library's ``replay()`` leaves the collector to its caller."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_arrow_memory() -> None:
    """And Arrow's allocator, read when pyarrow first allocates: the C library's (``ARROW_DEFAULT_MEMORY_POOL``)
    rather than the mimalloc of pyarrow's wheels, which either gives freed memory back at once and takes page
    faults to get it again (``MIMALLOC_PURGE_DELAY=0``: 262,000 faults and 1.45 s of system time for 1M rides as
    CSV, against 158,000 and 0.74 s) or keeps it (the default delay: 195 MB peak against 218 with 1 MiB chunks).
    Measured (1M rides, whole processes, alternating, 5 runs each, medians): CSV 5.48 s against 5.72, 6.45 CPU s
    against 6.79, 151 MB peak against 152; Parquet 6.36 s against 6.83, 6.51 CPU s against 7.03, 153 MB against
    157. Where the user picks mimalloc, it still gives memory back at once. And where numpy is installed, pyarrow
    imports it, whose OpenBLAS starts a thread per core that spins while idle: 2.7% of the CPU time of decoding CSV
    in a profile (``perf``), for BLAS that pump never calls; so pyarrow is imported without numpy
    (``pump.arrowlib``), and where numpy was imported before it (by a schema's module), OpenBLAS gets one thread
    (``OPENBLAS_NUM_THREADS``). Values the user set are kept."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    skip_numpy()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    configure_logging(getattr(args, "verbose", False))
    tune_gc()
    tune_arrow_memory()
    try:
        run = {"broker": commands.broker, "plan": commands.plan, "replay": commands.replay, "bench": commands.bench}[args.command]
        return run(args)
    except PumpError as exc:
        print(f"pump: {exc.render(flag_of)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pump: interrupted", file=sys.stderr)
        return 130
