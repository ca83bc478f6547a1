"""``pump bench``: every combination of the values given, ``repeat`` times, interleaved, against one cluster, on
one input (a file, or synthetic rides), in a topic of its own; then the table and, if asked, the JSON report.

The topic is created by the first run (``--create-topic --partitions N``) and deleted at the end unless
``keep_topic``; a topic that already exists is refused before anything runs (the bench would mix its records
with someone's data, and delete it after). Options for the replays themselves (security, ``-X``, ``--schema``,
``--key-field``) are passed through to every run, and checked first, as ``pump replay`` would check them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from pump.bench.matrix import ACKS, COMPRESSION, MODES, combinations, schedule
from pump.bench.runs import Run, run_one
from pump.bench.summary import by_combination, report, table
from pump.config import EMBEDDED, ReplayConfig
from pump.errors import UsageError

#: Flags the bench sets on each run itself: refused among the options passed through.
OWN_FLAGS = ("--mode", "--acks", "--compression", "--linger-ms", "--batch-bytes", "--processes", "--report-json",
             "--topic", "--bootstrap-servers", "--create-topic", "--partitions", "--no-progress", "--checkpoint")  # fmt: skip


@dataclass(frozen=True)
class BenchSettings:
    bootstrap: str
    input: str | None = None
    rows: int = 200_000
    topic: str | None = None
    modes: tuple[str, ...] = ("batch",)
    acks: tuple[str, ...] = ("1",)
    compression: tuple[str, ...] = ("none",)
    linger_ms: tuple[float, ...] = (5.0,)
    batch_bytes: tuple[int, ...] = (1 << 20,)
    processes: tuple[int, ...] = (1,)
    repeat: int = 3
    max_seconds: float | None = None
    partitions: int = 8
    keep_topic: bool = False
    report_json: str | None = None
    html: str | None = None
    replay_args: tuple[str, ...] = field(default_factory=tuple)

    def check(self) -> None:
        for name, given, allowed in (("--modes", self.modes, MODES), ("--acks", self.acks, ACKS),
                                     ("--compression", self.compression, COMPRESSION)):  # fmt: skip
            unknown = [v for v in given if v not in allowed]
            if unknown:
                raise UsageError(f"{name}: unknown {', '.join(map(repr, unknown))} (choose from {', '.join(allowed)})")
        own = [a.split("=", 1)[0] for a in self.replay_args if a.split("=", 1)[0] in OWN_FLAGS]
        if own:
            raise UsageError(f"{own[0]} is set by pump bench for each run (see pump bench --help)")
        if self.repeat < 1 or self.rows < 1 or self.partitions < 1:
            raise UsageError("--repeat, --rows and --partitions must be at least 1")
        if self.html is not None:
            from pump.bench.html import require

            require()


def run_bench(settings: BenchSettings, config: ReplayConfig, say: Callable[[str], None] = print) -> int:
    """``config``: the options passed through to the replays, already checked (its security settings and timeouts
    serve the bench's own admin requests); its inputs, topic and cluster are the bench's."""
    settings.check()
    topic = settings.topic or f"pump-bench-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        bootstrap = settings.bootstrap
        if bootstrap == EMBEDDED:
            from pump.dev.broker import Broker

            bootstrap = stack.enter_context(Broker()).bootstrap
        path, extra = stack.enter_context(_input(settings))
        base = [path, "--topic", topic, "--bootstrap-servers", bootstrap, "--create-topic", "--partitions",
                str(settings.partitions), *extra, *settings.replay_args]  # fmt: skip
        from pump.output.kafka.admin import delete_topic, topic_exists

        if asyncio.run(topic_exists(config, bootstrap, topic)):
            raise UsageError(f"topic {topic!r} exists at {bootstrap}: pump bench sends to a topic of its own (name a new one)")
        combos = combinations(list(settings.modes), list(settings.acks), list(settings.compression),
                              list(settings.linger_ms), list(settings.batch_bytes), list(settings.processes))  # fmt: skip
        order = schedule(combos, settings.repeat)
        runs: list[Run] = []
        try:
            for index, (repeat, combo) in enumerate(order, 1):
                run = run_one(combo, repeat, base, settings.max_seconds, index, len(order))
                runs.append(run)
                print(f"pump bench: run {index} of {len(order)}: {combo.label()}: {run.records_per_s:,.0f} records/s",
                      file=sys.stderr, flush=True)  # fmt: skip
        finally:
            if not settings.keep_topic and settings.bootstrap != EMBEDDED:
                why = asyncio.run(delete_topic(config, bootstrap, topic))
                if why:
                    print(f"pump: warning: topic {topic!r} not deleted: {why}", file=sys.stderr)
        rows = by_combination(combos, runs)
        source = path if settings.input is not None else f"{settings.rows:,} synthetic rides (JSON lines, --schema rides)"
        say(f"pump bench -> {settings.bootstrap} topic {topic!r} ({settings.partitions} partitions), {source}: "
            f"{settings.repeat} runs of each combination, interleaved; latency per record, send to acknowledgement")  # fmt: skip
        labels = [c.label() for c in combos]
        text = table(rows, labels)
        say(text)
        header = {"bootstrap": settings.bootstrap, "topic": topic, "input": source, "records": _records(runs),
                  "repeat": settings.repeat, "max_seconds": settings.max_seconds}  # fmt: skip
        full = report(header, runs, rows)
        if settings.report_json:
            Path(settings.report_json).write_bytes(msgspec.json.format(msgspec.json.encode(full)) + b"\n")
        if settings.html:
            from pump.bench.html import page

            Path(settings.html).write_text(page(full, labels, text))
    return 0


def _records(runs: list[Run]) -> int:
    full = [r.acknowledged + r.failed for r in runs if not r.time_boxed]
    return max(full) if full else 0


@contextlib.contextmanager
def _input(settings: BenchSettings) -> Iterator[tuple[str, list[str]]]:
    """(the input's path, the replay options it needs): the file given, or ``rows`` synthetic rides as JSON lines,
    validated as rides and keyed by pickup zone unless the options passed through say otherwise."""
    if settings.input is not None:
        yield settings.input, []
        return
    from pump.dev.synth import write_file

    with tempfile.TemporaryDirectory(prefix="pump-bench-") as tmp:
        path = write_file(str(Path(tmp) / f"rides-{settings.rows}.jsonl"), settings.rows)
        given = {a.split("=", 1)[0] for a in settings.replay_args}
        extra = [] if "--schema" in given else ["--schema", "rides"]
        extra += [] if "--key-field" in given else ["--key-field", "PULocationID"]
        yield path, extra
