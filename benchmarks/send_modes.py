"""`make bench`: pump's send modes against a librdkafka script and Kafka's own perf-test producer.

    python benchmarks/send_modes.py [--broker embedded|kafka|HOST:PORT] [--repeats 5] [--rows 1000000]
                                    [--acks 1|all] [--contenders a,b,...] [--json FILE]

Measured as a user would: every run is a whole process (``python -m pump replay``, the reference
script, ``java ... ProducerPerformance``) timed from start to exit by this script, with its CPU time
and peak RSS from ``wait4``. Each repeat runs every contender once, the order rotating from repeat to
repeat so that drift over the session favours none; the table gives medians, min..max, and ratios of
median rates to the librdkafka reference run in the same session.

Brokers: ``embedded`` (a fresh Tansu per run, started before the clock); ``kafka`` (Apache Kafka from
the test harness, one node for the session, a fresh topic per run, deleted after it); or the address
of a cluster you run (fresh topics there too). The perf-test contender needs ``java`` and ``mvn``, and so do the
Avro contenders (``*-avro*``: Apicurio Registry from the test harness, one for the session), whose ratios are also
given to the confluent-kafka script that writes Avro with its ``AvroSerializer`` (``librdkafka-avro``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
sys.path.insert(0, str(ROOT))

PARTITIONS = 8
LINGER_MS = 5
BATCH_BYTES = 1 << 20


def ensure(rows: int, fmt: str) -> Path:
    from pump.dev.synth import write_file, write_parquet

    DATA.mkdir(exist_ok=True)
    path = DATA / f"rides-{rows}.{fmt}"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        if fmt == "parquet":  # the TLC's 2025 column types, row groups of 250,000 rows
            write_parquet(str(path), rows, row_group_rows=250_000)
        else:
            write_file(str(path), rows, fmt=fmt)
    return path


@dataclass(frozen=True)
class Run:
    """What a contender is asked to do: ``path`` into ``topic`` at ``bootstrap``, results into ``folder``."""

    path: Path
    bootstrap: str
    topic: str
    acks: str
    folder: Path
    registry: str | None = None  # the Schema Registry's URL, for the Avro contenders


@dataclass(frozen=True)
class Contender:
    name: str
    fmt: str
    rows_divisor: int  # slow modes replay a smaller sample
    command: Callable[[Run], list[str]]
    result: Callable[[Run, str], tuple[int, float]]  # (records acknowledged, the contender's own timed window)
    settings: str  # for the table's legend
    scrape: bool = False  # scrape its metrics endpoint every second while it runs


def pump_command(*extra: str) -> Callable[[Run], list[str]]:
    def command(run: Run) -> list[str]:
        return [sys.executable, "-m", "pump", "replay", str(run.path), "--bootstrap-servers", run.bootstrap, "--topic",
                run.topic, "--schema", "rides", "--key-field", "PULocationID", "--linger-ms", str(LINGER_MS),
                "--batch-bytes", str(BATCH_BYTES), "--acks", run.acks, "--no-progress", "--report-json",
                str(run.folder / "report.json"), *extra]  # fmt: skip

    return command


def pump_plain_command(*extra: str) -> Callable[[Run], list[str]]:
    """pump with nothing asked of it beyond what kcat does: no schema, no key."""

    def command(run: Run) -> list[str]:
        return [sys.executable, "-m", "pump", "replay", str(run.path), "--bootstrap-servers", run.bootstrap, "--topic",
                run.topic, "--linger-ms", str(LINGER_MS), "--batch-bytes", str(BATCH_BYTES), "--acks", run.acks,
                "--no-progress", "--report-json", str(run.folder / "report.json"), *extra]  # fmt: skip

    return command


def kcat_command(run: Run) -> list[str]:
    """kcat -P -l: each line of the file a message, unkeyed, through librdkafka with the same batching and acks."""
    return ["kcat", "-P", "-b", run.bootstrap, "-t", run.topic, "-l", "-X", f"linger.ms={LINGER_MS}", "-X",
            f"batch.size={BATCH_BYTES}", "-X", f"acks={run.acks}", "-X", "enable.idempotence=false", str(run.path)]  # fmt: skip


def kcat_result(run: Run, _stdout: str) -> tuple[int, float]:
    """Its records are the file's lines (kcat says nothing of them; it exits 1 if any failed): the window is the
    whole process's."""
    count, _ = mean_line(run.path)
    return count, float("nan")


def pump_avro_command(*extra: str) -> Callable[[Run], list[str]]:
    def command(run: Run) -> list[str]:
        assert run.registry is not None
        return [*pump_command()(run), "--value-format", "avro", "--schema-registry", run.registry, *extra]

    return command


def pump_result(run: Run, _stdout: str) -> tuple[int, float]:
    report = json.loads((run.folder / "report.json").read_text())
    if report["exit_code"] != 0 or report["acknowledged"] != report["records"]:
        raise RuntimeError(f"pump did not deliver everything: {report}")
    return report["acknowledged"], report["duration_s"]


def reference_command(run: Run) -> list[str]:
    return [sys.executable, str(HERE / "reference.py"), str(run.path), run.bootstrap, run.topic, "--acks", run.acks,
            "--linger-ms", str(LINGER_MS), "--batch-bytes", str(BATCH_BYTES)]  # fmt: skip


def reference_result(_run: Run, stdout: str) -> tuple[int, float]:
    out = json.loads(stdout.strip().splitlines()[-1])
    return out["records"], out["window_s"]


def reference_avro_command(run: Run) -> list[str]:
    assert run.registry is not None
    return [sys.executable, str(HERE / "reference_avro.py"), str(run.path), run.bootstrap, run.topic, run.registry,
            "--acks", run.acks, "--linger-ms", str(LINGER_MS), "--batch-bytes", str(BATCH_BYTES)]  # fmt: skip


def raw_command(mode: str) -> Callable[[Run], list[str]]:
    def command(run: Run) -> list[str]:
        return [sys.executable, str(HERE / "raw_aiokafka.py"), mode, str(run.path), run.bootstrap, run.topic, "--acks",
                run.acks, "--partitions", str(PARTITIONS)]  # fmt: skip

    return command


PERF_LINE = re.compile(r"(\d+) records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency")


def perf_command(run: Run) -> list[str]:
    from tests.support.apache_kafka import jars

    count, size = mean_line(run.path)
    props = [f"bootstrap.servers={run.bootstrap}", f"acks={run.acks}", f"linger.ms={LINGER_MS}", f"batch.size={BATCH_BYTES}",
             f"enable.idempotence={str(run.acks == 'all').lower()}", "buffer.memory=134217728"]  # fmt: skip
    return ["java", "-Xms256m", "-Xmx1g", "-cp", f"{jars()}/*", "org.apache.kafka.tools.ProducerPerformance", "--topic",
            run.topic, "--num-records", str(count), "--record-size", str(size), "--throughput", "-1",
            "--producer-props", *props]  # fmt: skip


def mean_line(path: Path) -> tuple[int, int]:
    """Lines and their mean length, streamed: this process stays small, since a child's peak RSS as ``wait4``
    reports it starts from the size of the process that spawned it (Linux carries it across ``exec``)."""
    count = total = 0
    with open(path, "rb") as f:
        for line in f:
            count += 1
            total += len(line) - 1
    return count, round(total / count)


def perf_result(_run: Run, stdout: str) -> tuple[int, float]:
    found = PERF_LINE.findall(stdout)
    if not found:
        raise RuntimeError(f"no throughput line from ProducerPerformance:\n{stdout[-2000:]}")
    records, rate, _latency = found[-1]
    return int(records), int(records) / float(rate)


COMMON = f"linger {LINGER_MS} ms, batch.size {BATCH_BYTES // 1024} KiB, {PARTITIONS} partitions"
CONTENDERS = {
    c.name: c
    for c in (
        Contender("librdkafka", "jsonl", 1, reference_command, reference_result,
                  f"confluent-kafka script: msgspec-validates each line for its key; produce, poll(0); murmur2_random; {COMMON}"),
        Contender("kcat", "jsonl", 1, kcat_command, kcat_result,
                  f"kcat -P -l (librdkafka in C): each line as it is, unkeyed; {COMMON} (Apache Kafka only)"),
        Contender("pump-lines", "jsonl", 1, pump_plain_command("--format", "lines"), pump_result,
                  "pump replay --format lines: each line as it is, unkeyed (kcat's job)"),
        Contender("pump-plain", "jsonl", 1, pump_plain_command(), pump_result,
                  "pump replay of JSON lines, no --schema, no key (each line checked to be a JSON object)"),
        Contender("perf-test", "jsonl", 1, perf_command, perf_result,
                  "Kafka's ProducerPerformance (Java client): random payloads of the rides' mean size, no keys"),
        Contender("aiokafka-batch", "jsonl", 1, raw_command("batch"), reference_result,
                  "aiokafka alone: explicit per-partition batches, same validation and keys, no accounting (batch's ceiling)"),
        Contender("aiokafka-send", "jsonl", 5, raw_command("send"), reference_result,
                  "aiokafka alone: send() per record, same validation and keys, 1/5 the rows (callback's ceiling)"),
        Contender("pump-batch", "jsonl", 1, pump_command(), pump_result, f"pump replay --mode batch, --schema rides, {COMMON}"),
        Contender("pump-batch-metrics", "jsonl", 1, pump_command(), pump_result,
                  "as pump-batch, with --metrics-addr scraped every second", scrape=True),
        Contender("pump-batch-csv", "csv", 1, pump_command(), pump_result, "as pump-batch, on the same rides as CSV"),
        Contender("pump-batch-csv-inline", "csv", 1, pump_command("--decode-processes", "0"), pump_result,
                  "as pump-batch-csv, decoded on the event loop's thread (--decode-processes 0)"),
        Contender("pump-batch-parquet", "parquet", 1, pump_command(), pump_result,
                  "as pump-batch, on the same rides as Parquet (the TLC's 2025 column types), --datetime iso"),
        Contender("pump-batch-p2", "jsonl", 1, pump_command("--processes", "2"), pump_result, "as pump-batch, --processes 2"),
        Contender("pump-batch-eos", "jsonl", 1, pump_command("--exactly-once"), pump_result,
                  "as pump-batch, --exactly-once (with --acks all: transactions of 100,000 records or 1 s)"),
        Contender("pump-batch-csv-eos", "csv", 1, pump_command("--exactly-once"), pump_result,
                  "as pump-batch-csv, --exactly-once"),
        Contender("pump-batch-csv-p2", "csv", 1, pump_command("--processes", "2"), pump_result,
                  "as pump-batch-csv, --processes 2"),
        Contender("librdkafka-avro", "jsonl", 1, reference_avro_command, reference_result,
                  "confluent-kafka script: msgspec decodes each line into the rides Struct, AvroSerializer (same schema and"
                  " registry) writes it"),
        Contender("pump-avro", "jsonl", 1, pump_avro_command(), pump_result,
                  "as pump-batch, --value-format avro (the schema derived from --schema rides)"),
        Contender("pump-avro-csv", "csv", 1, pump_avro_command(), pump_result, "as pump-avro, on the same rides as CSV"),
        Contender("pump-avro-parquet", "parquet", 1, pump_avro_command(), pump_result,
                  "as pump-avro, on the same rides as Parquet (the schema derived from its columns)"),
        Contender("pump-callback", "jsonl", 5, pump_command("--mode", "callback"), pump_result, "--mode callback, 1/5 the rows"),
        Contender("pump-sync", "jsonl", 50, pump_command("--mode", "sync"), pump_result, "--mode sync, 1/50 of the rows"),
    )
}  # fmt: skip


class Target:
    """Where runs send to. ``topic()`` gives a bootstrap address and a fresh topic for one run."""

    def __init__(self, broker: str, folder: Path, registry: bool = False) -> None:
        self.broker = broker
        self.folder = folder
        self.cluster = None
        self.registry: Any = None
        self.registry_url: str | None = None
        self._wants_registry = registry
        self.bootstrap = broker
        self.admin = None

    def __enter__(self) -> Target:
        if self.broker == "kafka":
            from tests.support.apache_kafka import KafkaCluster

            started = time.perf_counter()
            self.cluster = KafkaCluster(1, self.folder / "kafka", heap="1g").__enter__()
            self.bootstrap = self.cluster.bootstrap
            print(f"Apache Kafka ready in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        if self._wants_registry:
            from tests.support.registry import Apicurio

            self.registry = Apicurio(self.folder / "registry").__enter__()
            self.registry_url = self.registry.url
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.registry is not None:
            self.registry.__exit__(*exc_info)
        if self.cluster is not None:
            self.cluster.__exit__(*exc_info)

    @contextlib.contextmanager
    def topic(self) -> Iterator[tuple[str, str]]:
        from confluent_kafka.admin import AdminClient, NewTopic

        from pump.dev.broker import Broker

        name = f"bench-{uuid.uuid4().hex[:8]}"
        with contextlib.ExitStack() as stack:
            bootstrap = stack.enter_context(Broker()).bootstrap if self.broker == "embedded" else self.bootstrap
            admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
            admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(60)
            _until_led(admin, name)
            try:
                yield bootstrap, name
            finally:
                if self.broker != "embedded":  # a fresh topic per run, so runs never share a log
                    admin.delete_topics([name])[name].result(60)


def _until_led(admin: object, name: str, within: float = 30.0) -> None:
    """Wait until the broker's metadata has the topic with a leader for every partition: a topic created a moment
    ago may not be in it yet, and the contender would find no topic (seen once in a run of 45)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)  # type: ignore[attr-defined]
        partitions = [] if topic is None or topic.error is not None else list(topic.partitions.values())
        if len(partitions) == PARTITIONS and all(p.leader >= 0 for p in partitions):
            return
        time.sleep(0.05)
    raise SystemExit(f"topic {name} has no leader for every partition after {within:g} s")


def scraper(url: str, stop: threading.Event) -> None:
    """What Prometheus does to a pump with metrics on (every second, stricter than the usual 5 s)."""
    while not stop.wait(1.0):
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            r.read()


def summed_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """The peak of the RSS of ``pid`` and all its descendants together, sampled every 50 ms (``wait4`` gives
    the largest single process, not the sum: pump's decode processes and ``--processes`` add up)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        while not stop.wait(0.05):
            total = 0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak[0] = max(peak[0], total / (1 << 20))


def run_once(contender: Contender, target: Target, path: Path, acks: str) -> dict[str, float]:
    """One whole process, start to exit: wall time, CPU time and peak RSS (``wait4``; the sum over its processes,
    sampled), and what it delivered."""
    with target.topic() as (bootstrap, topic), tempfile.TemporaryDirectory() as tmp:
        run = Run(path, bootstrap, topic, acks, Path(tmp), target.registry_url)
        cmd = contender.command(run)
        stop = threading.Event()
        if contender.scrape:
            from pump.dev.broker import free_port

            port = free_port()
            cmd += ["--metrics-addr", f"127.0.0.1:{port}"]
            threading.Thread(target=scraper, args=(f"http://127.0.0.1:{port}/metrics", stop), daemon=True).start()
        out = Path(tmp) / "stdout"
        with open(out, "wb") as sink:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.PIPE)
            peak = [0.0]
            sampler = threading.Thread(target=summed_rss, args=(proc.pid, stop, peak), daemon=True)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        stdout = out.read_text(errors="replace")
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise SystemExit(f"{contender.name} exited {code}:\n{stdout[-2000:]}\n{stderr[-3000:]}")
        records, window = contender.result(run, stdout)
    return {"wall_s": wall, "records": records, "records_per_s": records / wall, "own_records_per_s": records / window,
            "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "rss_sum_mb": peak[0]}  # fmt: skip


def table(runs: dict[str, list[dict[str, float]]], references: tuple[str, ...]) -> str:
    """A row a contender, with its ratio to each reference that ran (the librdkafka scripts)."""

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    refs = [r for r in references if r in runs] or list(references[:1])
    head = (f"{'contender':<20}{'rows':>10}{'wall s (median, min..max)':>28}{'records/s':>11}{'own rec/s':>11}"
            f"{'CPU s':>7}{'RSS MB':>8}{'sum MB':>8}" + "".join(f"{'vs ' + r:>20}" for r in refs))  # fmt: skip
    lines = [head, "-" * len(head)]
    for name, rs in runs.items():
        walls = [r["wall_s"] for r in rs]
        spread = f"{statistics.median(walls):.2f} ({min(walls):.2f}..{max(walls):.2f})"
        ratios = [f"{median(name, 'records_per_s') / median(r, 'records_per_s'):.2f}x" if r in runs else "-" for r in refs]
        lines.append(f"{name:<20}{int(rs[0]['records']):>10,}{spread:>28}{median(name, 'records_per_s'):>11,.0f}"
                     f"{median(name, 'own_records_per_s'):>11,.0f}{median(name, 'cpu_s'):>7.1f}{median(name, 'rss_mb'):>8.0f}"
                     f"{median(name, 'rss_sum_mb'):>8.0f}" + "".join(f"{r:>20}" for r in ratios))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", default="embedded", help="embedded (Tansu), kafka (Apache Kafka, started here), or HOST:PORT")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--acks", choices=("1", "all"), default="1", help="for every contender (default 1, as the reference)")
    ap.add_argument("--contenders", help=f"from {', '.join(CONTENDERS)} (default: all that the broker and the machine allow)")
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    a = ap.parse_args()
    java = shutil.which("java") and shutil.which("mvn")
    allowed = [n for n in CONTENDERS if (n != "perf-test" or java) and (not n.endswith("-eos") or a.broker != "embedded")
               and ("avro" not in n or java) and (n != "kcat" or (shutil.which("kcat") and a.broker != "embedded"))]  # fmt: skip
    names = a.contenders.split(",") if a.contenders else allowed  # Tansu has no transactions: -eos needs Kafka
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise SystemExit(f"unknown contenders {unknown}: choose from {', '.join(CONTENDERS)}")
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    avro = any("avro" in n for n in names)
    with tempfile.TemporaryDirectory() as tmp, Target(a.broker, Path(tmp), registry=avro) as target:
        for i in range(a.repeats):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # rotated: each contender in each place
                contender = CONTENDERS[name]
                path = ensure(a.rows // contender.rows_divisor, contender.fmt)
                result = run_once(contender, target, path, a.acks)
                runs[name].append(result)
                print(json.dumps({"contender": name, "repeat": i, **{k: round(v, 3) for k, v in result.items()}}), flush=True)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbroker {a.broker}, acks {a.acks}, {a.repeats} repeats, rotating order; whole processes, start to exit")
    print(f"(RSS is the largest process's peak, never below this launcher's {floor:.0f} MB, which Linux counts in;")
    print(" sum MB: the peak of all its processes' RSS together, sampled every 50 ms)")
    print(table(runs, ("librdkafka", "kcat", "librdkafka-avro")))
    print("\n" + "\n".join(f"  {n}: {CONTENDERS[n].settings}" for n in names))
    if a.json:
        a.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
