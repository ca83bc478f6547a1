"""What a run is asked to do: one frozen value object, built by the CLI or by library callers."""

from __future__ import annotations

from typing import Literal

import msgspec

from pump.security import Security

Format = Literal["auto", "csv", "jsonl"]
ModeName = Literal["batch", "callback", "sync"]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
Acks = Literal["0", "1", "all"]

DEFAULT_BOOTSTRAP = "localhost:9092"
EMBEDDED = "embedded"


class ReplayConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A replay: which files go to which topic, and how.

    Durations are float seconds; ``linger`` becomes aiokafka's ``linger_ms`` only
    where the producer is built.
    """

    paths: tuple[str, ...]
    topic: str
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    format: Format = "auto"
    key_field: str | None = None
    schema: str | None = None
    mode: ModeName = "batch"
    workers: int = 2
    decode_processes: int | None = None  # None: auto (see pipeline.decode_processes_for)
    queue_size: int = 8
    chunk_bytes: int = 1 << 20
    max_in_flight: int = 65536
    linger: float = 0.005
    batch_bytes: int = 1 << 20
    max_message_bytes: int = 1 << 20  # Kafka's default message.max.bytes is about this
    compression: Compression = "none"
    acks: Acks = "1"
    idempotence: bool = False
    producer_options: dict[str, str] = msgspec.field(default_factory=dict)
    security: Security = msgspec.field(default_factory=Security)
    create_topic: bool = False
    partitions: int = 1
    replication_factor: int = 1
    max_errors: int | None = None
    dead_letter: str | None = None  # PATH (JSON lines) or topic:NAME
    checkpoint: str | None = None
    checkpoint_interval: float = 5.0
    restart: bool = False
    shutdown_timeout: float = 30.0
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    metrics_addr: str | None = None
    metrics_linger: float = 0.0
    pushgateway: str | None = None
    progress: bool = True
    max_invalid_shown: int = 10

    def __post_init__(self) -> None:
        from pump.errors import UsageError

        if not self.paths:
            raise UsageError("no input files given")
        if not self.topic:
            raise UsageError("--topic must not be empty")
        for name in (
            "workers",
            "queue_size",
            "chunk_bytes",
            "max_in_flight",
            "batch_bytes",
            "max_message_bytes",
            "partitions",
            "replication_factor",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        if self.decode_processes is not None and self.decode_processes < 0:
            raise UsageError("--decode-processes must not be negative")
        if self.dead_letter is not None and self.dead_letter in ("", "topic:"):
            raise UsageError("--dead-letter needs a PATH or topic:NAME")
        if self.checkpoint_interval <= 0:
            raise UsageError("--checkpoint-interval must be positive")
        if self.metrics_linger < 0:
            raise UsageError("--metrics-linger must not be negative")
        if self.linger < 0:
            raise UsageError("--linger-ms must not be negative")
        if self.max_errors is not None and self.max_errors < 0:
            raise UsageError("--max-errors must not be negative")
