"""One benchmark contender in its own process, against its own fresh broker. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
import urllib.request

TOPIC = "bench"
PARTITIONS = 8
LINGER_MS = 5
BATCH_BYTES = 1 << 20


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak RSS of this process, or of its largest child (the decode processes; the broker is not ours)."""
    return resource.getrusage(who).ru_maxrss / 1024


def scrape_every_second(url: str, stop: threading.Event) -> None:
    """What Prometheus does to a pump with metrics on (at a 1 s interval, stricter than the usual 5 s)."""
    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
        except OSError:
            pass


def pump_run(bootstrap: str, path: str, mode: str, metrics: bool = False) -> dict:
    import uvloop

    from pump import ReplayConfig, replay
    from pump.dev.broker import free_port

    addr = f"127.0.0.1:{free_port()}" if metrics else None
    stop = threading.Event()
    if addr:
        threading.Thread(target=scrape_every_second, args=(f"http://{addr}/metrics", stop), daemon=True).start()

    config = ReplayConfig.of(
        path, TOPIC, bootstrap_servers=bootstrap, schema="rides", key_field="PULocationID", mode=mode, create_topic=True,
        partitions=PARTITIONS, linger=LINGER_MS / 1000, batch_bytes=BATCH_BYTES, progress=False, metrics_addr=addr,
        acks="1",  # as the librdkafka reference

    )  # fmt: skip
    try:
        report = uvloop.run(replay(config))
    finally:
        stop.set()
    assert report.exit_code == 0 and report.acknowledged == report.records, report.to_text()
    return {
        "rows": report.acknowledged,
        "seconds": report.duration_s,
        "records_per_s": report.records_per_s,
        "mb_per_s": report.mb_per_s,
        "p50_ms": report.latency.p50_ms,
        "p99_ms": report.latency.p99_ms,
    }


def reference_run(bootstrap: str, path: str) -> dict:
    import msgspec
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from pump.schemas import Ride

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result()
    producer = Producer({
        "bootstrap.servers": bootstrap, "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES, "acks": 1,
        "partitioner": "murmur2_random", "enable.idempotence": False, "queue.buffering.max.messages": 1_000_000,
    })  # fmt: skip
    decode = msgspec.json.Decoder(Ride).decode
    latencies: list[float] = []
    failed = 0
    nbytes = 0

    def delivered(err: object, msg: object, sent: float = 0.0) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    rows = 0
    start = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            value = line.rstrip(b"\r\n")
            if not value:
                continue
            key = str(decode(value).PULocationID).encode()
            t0 = time.perf_counter()
            while True:
                try:
                    producer.produce(
                        TOPIC,
                        value,
                        key,
                        on_delivery=lambda e, m, t0=t0: (
                            latencies.append(time.perf_counter() - t0) if e is None else delivered(e, m)
                        ),
                    )
                    break
                except BufferError:
                    producer.poll(0.005)
            rows += 1
            nbytes += len(value)
            if rows % 5000 == 0:
                producer.poll(0)
    remaining = producer.flush(120)
    seconds = time.perf_counter() - start
    assert remaining == 0 and failed == 0 and len(latencies) == rows
    latencies.sort()
    return {
        "rows": rows,
        "seconds": round(seconds, 4),
        "records_per_s": round(rows / seconds, 1),
        "mb_per_s": round(nbytes / seconds / 1e6, 3),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }


def main() -> None:
    name, path, bootstrap = sys.argv[1], sys.argv[2], sys.argv[3]
    if name == "librdkafka-reference":
        result = reference_run(bootstrap, path)
    else:
        modes = {"pump-batch": "batch", "pump-batch-metrics": "batch", "pump-batch-csv": "batch", "pump-callback": "callback",
                 "pump-sync": "sync"}  # fmt: skip
        result = pump_run(bootstrap, path, modes[name], metrics=name.endswith("-metrics"))
    children = peak_rss_mb(resource.RUSAGE_CHILDREN)
    result.update(
        name=name, file=path.rsplit("/", 1)[-1], peak_rss_mb=round(peak_rss_mb(), 1), child_peak_rss_mb=round(children, 1)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
