"""The command line: parse arguments, run a command, map errors to exit codes.

Exit status: 0 every line handled; 1 some line invalid or not delivered; 2 usage,
configuration, input or connection error (one line naming the flags, no traceback);
130/143 stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pump._version import __version__
from pump.cli import commands
from pump.cli.options import add_bench_arguments, add_replay_arguments, add_setting, add_verify_arguments, flag_of
from pump.cli.tuning import tune_process
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
    for name in ("format", "recursive", "include", "exclude"):
        add_setting(p, name)
    p.add_argument("--json", action="store_true", help="print the assignment as JSON")
    add_bench_arguments(sub.add_parser(
        "bench", help="compare send modes and producer settings against a cluster, side by side",
        description="Every combination of the values listed (comma-separated), --repeat times, interleaved, each run a"
        " whole pump replay into a topic of the bench's own. Other replay options (security, -X, --schema,"
        " --key-field) are passed through to every run. INPUT: a file to replay (default: --rows synthetic rides).",
        allow_abbrev=False,  # --mode is replay's (refused here), not an abbreviation of --modes
    ))  # fmt: skip
    add_verify_arguments(sub.add_parser(
        "verify", help="check that a topic holds the inputs' records exactly once, on their keys' partitions, in order",
        description="Give it the command that replayed the inputs, with verify for replay: it reads the inputs as that"
        " replay did and the topic as a read_committed consumer, and names every record missing, twice, unexpected, on"
        " another partition than its key's, or out of order, with its input line. Exit 0: exact; 1: a mismatch; 2: an"
        " error. Sending options (--mode, --rate, --acks...) are taken and make no difference; --shard and --processes"
        " are ignored (the whole job is checked).",
    ))  # fmt: skip
    s = sub.add_parser("schema", help="print the value schema pump derives for these inputs (Avro or JSON Schema)",
                       description="The schema pump replay --value-format registers when no --value-schema is given:"
                       " from a Parquet input's columns, else from --schema, with only --columns when given.")  # fmt: skip
    s.add_argument("paths", nargs="+", metavar="PATH", help=SETTINGS["paths"].help)
    add_setting(s, "value_format", default="avro")
    s.add_argument(
        "--topic", default="records", help="the topic: a Parquet input's Avro record is named for it (default records)"
    )
    for name in ("schema", "columns", "format", "recursive", "include", "exclude"):
        add_setting(s, name)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    configure_logging(getattr(args, "verbose", False))
    tune_process()
    try:
        run = {"broker": commands.broker, "plan": commands.plan, "replay": commands.replay, "bench": commands.bench,
               "verify": commands.verify, "schema": commands.schema}[args.command]  # fmt: skip
        return run(args)
    except PumpError as exc:
        print(f"pump: {exc.render(flag_of)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pump: interrupted", file=sys.stderr)
        return 130
