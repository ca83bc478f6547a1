"""Argument parsing only: build a ``ReplayConfig``, call ``replay()``, map errors to exit codes.

Exit status: 0 every record delivered; 1 some line invalid or not delivered;
2 usage, configuration, input or connection error (one line, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from pump import __version__
from pump.config import DEFAULT_BOOTSTRAP, ReplayConfig
from pump.errors import PumpError, UsageError
from pump.security import Security, read_password


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"pump: error: {message}\n")


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="input files (CSV with header, JSON lines; gzip/zstd ok); - for stdin"
    )
    p.add_argument("--topic", required=True)
    p.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("PUMP_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        help="HOST:PORT[,...], or 'embedded' for a throwaway local broker (default: $PUMP_BOOTSTRAP_SERVERS or %(default)s)",
    )
    p.add_argument("--format", choices=["auto", "csv", "jsonl"], default="auto")
    p.add_argument("--key-field", metavar="NAME", help="record field whose value becomes the message key")
    p.add_argument(
        "--schema", metavar="NAME|MODULE:STRUCT", help="validate records against a msgspec Struct ('rides' is built in)"
    )
    p.add_argument("--mode", choices=["batch", "callback", "sync"], default="batch")
    p.add_argument("--workers", type=int, default=2, help="decoding coroutines (default %(default)s)")
    p.add_argument(
        "--decode-processes",
        type=int,
        metavar="N",
        help="decode in N worker processes to use more cores (default: 2 for CSV input over 32 MiB, else 0)",
    )
    p.add_argument(
        "--queue-size", type=int, default=8, help="chunks (~1 MiB each) between reader and workers (default %(default)s)"
    )
    p.add_argument("--max-in-flight", type=int, default=65536, help="records sent but not yet acknowledged (default %(default)s)")
    p.add_argument("--linger-ms", type=float, default=5.0)
    p.add_argument("--batch-bytes", type=int, default=1 << 20)
    p.add_argument(
        "--max-message-bytes", type=int, default=1 << 20, help="larger records fail as too_large (default 1 MiB, as Kafka)"
    )
    p.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"], default="none")
    p.add_argument("--acks", choices=["0", "1", "all"], default="1")
    p.add_argument("--idempotence", action="store_true", help="idempotent producer (acks=all): no duplicates from retries")
    p.add_argument(
        "-X", dest="options", action="append", default=[], metavar="KEY=VALUE", help="aiokafka producer option (repeatable)"
    )
    sec = p.add_argument_group("security")
    sec.add_argument("--security-protocol", choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], default="PLAINTEXT")
    sec.add_argument("--ssl-cafile", metavar="FILE", help="CA bundle that signed the brokers' certificates")
    sec.add_argument("--ssl-certfile", metavar="FILE", help="client certificate (mutual TLS)")
    sec.add_argument("--ssl-keyfile", metavar="FILE", help="client private key (mutual TLS)")
    sec.add_argument("--sasl-mechanism", choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    sec.add_argument("--sasl-username")
    sec.add_argument("--sasl-password-file", metavar="FILE", help="password file (else $PUMP_SASL_PASSWORD); never a flag value")
    p.add_argument("--create-topic", action="store_true", help="create the topic if it does not exist")
    p.add_argument("--partitions", type=int, default=1, help="partitions for --create-topic (default %(default)s)")
    p.add_argument("--replication-factor", type=int, default=1, help="replication for --create-topic (default %(default)s)")
    p.add_argument("--report-json", metavar="FILE", help="write the end-of-run report as JSON")
    p.add_argument("--max-errors", type=int, metavar="N", help="stop after N invalid lines (default: no limit)")
    p.add_argument(
        "--dead-letter",
        metavar="PATH|topic:NAME",
        help="where invalid lines and undeliverable records go, raw, with the reason",
    )
    p.add_argument("--checkpoint", metavar="FILE", help="record progress there, and resume from it when it exists")
    p.add_argument("--checkpoint-interval", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--restart", action="store_true", help="ignore the checkpoint's positions (e.g. for a changed file)")
    p.add_argument(
        "--delivery-timeout",
        "--request-timeout",
        dest="delivery_timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a send may take, retries of retriable errors included (aiokafka's request_timeout_ms)",
    )
    p.add_argument(
        "--shutdown-timeout", type=float, default=30.0, metavar="SECONDS", help="on SIGINT/SIGTERM, wait this long for in-flight"
    )
    p.add_argument(
        "--metrics-addr", metavar="HOST:PORT", help="serve Prometheus metrics there, e.g. 127.0.0.1:9464 (off by default)"
    )
    p.add_argument(
        "--metrics-linger", type=float, default=0.0, metavar="SECONDS", help="keep serving metrics this long after the run"
    )
    p.add_argument("--pushgateway", metavar="URL", help="push the final metrics to this Prometheus Pushgateway")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("-v", "--verbose", action="store_true", help="show aiokafka's log")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pump", description="Replay CSV and JSON-lines files into Kafka, fast, accounting for every line.")
    parser.add_argument("--version", action="version", version=f"pump {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _replay_args(sub.add_parser("replay", help="replay files into a topic"))
    b = sub.add_parser("broker", help="run the embedded development broker in the foreground")
    b.add_argument("--port", type=int, default=9092)
    b.add_argument("--host", default="127.0.0.1")
    return parser


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-X {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def config_from_args(args: argparse.Namespace) -> ReplayConfig:
    return ReplayConfig(
        paths=tuple(args.paths),
        topic=args.topic,
        bootstrap_servers=args.bootstrap_servers,
        format=args.format,
        key_field=args.key_field,
        schema=args.schema,
        mode=args.mode,
        workers=args.workers,
        decode_processes=args.decode_processes,
        queue_size=args.queue_size,
        max_in_flight=args.max_in_flight,
        linger=args.linger_ms / 1000,
        batch_bytes=args.batch_bytes,
        max_message_bytes=args.max_message_bytes,
        compression=args.compression,
        acks=args.acks,
        idempotence=args.idempotence,
        producer_options=_options(args.options),
        security=Security(
            protocol=args.security_protocol,
            ssl_cafile=args.ssl_cafile,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            sasl_mechanism=args.sasl_mechanism,
            sasl_username=args.sasl_username,
            sasl_password=read_password(args.sasl_password_file),
        ),
        create_topic=args.create_topic,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
        max_errors=args.max_errors,
        dead_letter=args.dead_letter,
        checkpoint=args.checkpoint,
        checkpoint_interval=args.checkpoint_interval,
        restart=args.restart,
        shutdown_timeout=args.shutdown_timeout,
        request_timeout=args.delivery_timeout,
        progress=not args.no_progress,
        metrics_addr=args.metrics_addr,
        metrics_linger=args.metrics_linger,
        pushgateway=args.pushgateway,
    )


def _run_loop(coro: object, loop_name: str) -> object:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    return asyncio.run(coro)  # type: ignore[arg-type]


def _replay(args: argparse.Namespace) -> int:
    from pump.pipeline import replay
    from pump.report import Report

    def show(report: Report) -> None:
        print(report.to_text(), flush=True)
        if args.report_json:
            try:
                with open(args.report_json, "wb") as f:
                    f.write(report.to_json())
            except OSError as exc:
                print(f"pump: --report-json {args.report_json}: {exc.strerror}", file=sys.stderr)
        if report.error:
            print(f"pump: {report.error}", file=sys.stderr)

    report = _run_loop(replay(config_from_args(args), on_report=show, handle_signals=True), args.loop)
    for warning in report.warnings:  # type: ignore[attr-defined]
        print(f"pump: warning: {warning}", file=sys.stderr)
    return int(report.exit_code)  # type: ignore[attr-defined]


def _broker(args: argparse.Namespace) -> int:
    from pump.broker import Broker

    broker = Broker(port=args.port, host=args.host)
    broker.start(quiet=True)
    broker.wait_ready()
    print(f"embedded broker (Tansu, memory only) listening; bootstrap servers: {broker.bootstrap}", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.CRITICAL, format="%(name)s: %(message)s"
    )
    try:
        if args.command == "broker":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            return _broker(args)
        return _replay(args)
    except PumpError as exc:
        print(f"pump: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pump: interrupted", file=sys.stderr)
        return 130
