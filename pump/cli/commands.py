"""The commands: ``pump replay`` (run a replay, print its report), ``pump verify`` (check a topic against the inputs),
``pump plan``, ``pump bench`` and ``pump broker`` (the embedded broker)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from pump.cli.options import config_from_args, flag_of
from pump.observe import Report

T = TypeVar("T")


def run_loop(coro: Coroutine[Any, Any, T], loop_name: str) -> T:
    """``coro`` to its end on a new event loop: uvloop's, or asyncio's own (``--loop``)."""
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def replay(args: argparse.Namespace) -> int:
    from pump.runner import replay as run

    shown: list[str] = []

    def show(report: Report) -> None:  # warnings first: the error, if any, is the last line
        print(report.to_text(), flush=True)
        for warning in report.warnings:
            print(f"pump: warning: {warning}", file=sys.stderr)
        shown.extend(report.warnings)
        if report.error:
            print(f"pump: {report.error}", file=sys.stderr)

    report = run_loop(run(config_from_args(args), on_report=show, handle_signals=True), args.loop)
    for warning in report.warnings[len(shown) :]:  # e.g. a push to the Pushgateway that failed after the report
        print(f"pump: warning: {warning}", file=sys.stderr)
    return report.exit_code


def plan(args: argparse.Namespace) -> int:
    """``pump plan --shards N PATH...``: which pieces of the inputs each shard of ``--shard I/N`` replays."""
    import msgspec

    from pump.input import open_sources
    from pump.input.files import shard_plan
    from pump.input.listing import Listing

    sources = open_sources(tuple(args.paths), args.format, listing=Listing.of(args))
    sizes = {source.name: source.size or 0 for source in sources}
    shards = shard_plan(sources, args.shards)
    rows = [[{"path": p.path, "start": p.start, "end": sizes[p.path] if p.end is None else p.end} for p in ps] for ps in shards]
    if args.json:
        print(msgspec.json.encode({"shards": args.shards, "pieces": rows}).decode())
        return 0
    for index, (pieces, row) in enumerate(zip(shards, rows, strict=True)):
        print(f"shard {index}/{args.shards}: {len(pieces)} piece(s), {sum(r['end'] - r['start'] for r in row):,} bytes")
        for piece, r in zip(pieces, row, strict=True):
            print(f"  {piece.path}  bytes {r['start']:,}..{r['end']:,}{' (whole file)' if piece.whole else ''}")
    return 0


def schema(args: argparse.Namespace) -> int:
    """``pump schema PATH...``: the value schema ``pump replay`` would register for these inputs, to review or register."""
    import msgspec

    from pump.input import open_sources
    from pump.input.listing import Listing
    from pump.runner.values import value_schema
    from pump.schemas import load_schema

    columns = tuple(c.strip() for c in args.columns.split(",") if c.strip()) if args.columns else None
    sources = open_sources(tuple(args.paths), args.format, columns, listing=Listing.of(args))
    struct = load_schema(args.schema) if args.schema else None
    derived = value_schema(args.value_format, None, args.topic, columns, sources, struct)
    print(msgspec.json.format(derived.text, indent=2))
    return 0


def broker(args: argparse.Namespace) -> int:
    from pump.dev.broker import Broker

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    with Broker(port=args.port, host=args.host) as b:
        print(f"embedded broker (Tansu, memory only) listening; bootstrap servers: {b.bootstrap}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


def verify(args: argparse.Namespace) -> int:
    """``pump verify``: see ``pump.verify``."""
    from pump.verify import Start, verify

    config = config_from_args(args)
    report = run_loop(verify(config, Start(args.from_timestamp, args.from_offsets)), args.loop)
    print(report.to_text(), flush=True)
    path = config.observe.report_json
    if path is not None:
        try:
            with open(path, "wb") as f:
                f.write(report.to_json())
        except OSError as exc:
            print(f"pump: warning: report not written to {path}: {exc.strerror or exc}", file=sys.stderr)
    return report.exit_code


def bench(args: argparse.Namespace) -> int:
    """``pump bench``: see ``pump.bench``."""
    from pump.bench import BenchSettings, run_bench
    from pump.cli.options import bench_config

    path, passed, config = bench_config(args.rest)
    settings = BenchSettings(
        args.bootstrap_servers, path, args.rows, args.topic, args.modes, args.acks, args.compression, args.linger_ms,
        args.batch_bytes, args.processes, args.repeat, args.max_seconds, args.partitions, args.keep_topic,
        args.report_json, args.html, tuple(passed),
    )  # fmt: skip
    return run_bench(settings, config)


__all__ = ("bench", "broker", "flag_of", "plan", "replay", "run_loop", "verify")
