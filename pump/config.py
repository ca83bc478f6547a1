"""What a run is asked to do: frozen value objects in groups, and the one table of settings.

Every setting is declared once, as a field of a group below: its type, default,
help and constraints (``setting(...)``). Everything else is derived from these
declarations: the command line (``pump.cli.options`` builds every flag from
``SETTINGS``), the flat keywords of ``ReplayConfig.of(...)``, and the checks in
``__post_init__``, so a name, a default or a help text cannot drift apart.

    ReplayConfig
      topic       where records go
      input       InputSettings       what to read, how to cut and decode it
      producer    ProducerSettings    the cluster, the topic's creation, batching, durability
      security    SecuritySettings    TLS and SASL
      delivery    DeliverySettings    send mode, bounds, timeouts, dead letters
      transactions TransactionSettings exactly once: records and input positions in Kafka transactions
      values      ValueSettings       the values' format (JSON, or Avro and JSON Schema through a Schema Registry)
      checkpoint  CheckpointSettings  progress kept across runs
      observe     ObserveSettings     metrics, progress line, report

Durations are float seconds. ``linger`` is milliseconds only on the command line
(``--linger-ms``) and where aiokafka's arguments are built.
"""

from __future__ import annotations

import functools
import string
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import inspect as mi

from pump.errors import ConfigError, PumpError

Format = Literal["auto", "csv", "jsonl", "lines", "parquet"]
DatetimeMode = Literal["iso", "sql", "epoch-ms", "epoch-us"]
ModeName = Literal["batch", "callback", "sync"]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
Acks = Literal["0", "1", "all"]
Idempotence = Literal["auto", "on", "off"]
ShardBy = Literal["input", "partition"]
RecordTimestamp = Literal["create", "event", "shifted"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
ValueFormat = Literal["json", "avro", "json-schema"]

EMBEDDED = "embedded"


def setting(help: str, *, name: str | None = None, flag: str | None = None, **extra: Any) -> msgspec.Meta:
    """A setting's declaration. ``extra``: ``ge``/``gt`` (checked), ``metavar``, ``aliases``, ``env``
    (the CLI's default comes from this variable), ``flag_unit`` (``"ms"``: the flag takes milliseconds),
    ``positional``, ``cli=False`` with ``via`` (no flag: how the command line sets it instead, e.g. a password)."""
    return msgspec.Meta(description=help, extra={"name": name, "flag": flag, **extra})


class Secret:
    """A value that is never shown: its repr hides it, so it stays out of logs and reports."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Group(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    def __post_init__(self) -> None:
        _check_constraints(self)


class InputSettings(_Group):
    """What to read, and how to cut and decode it."""

    paths: Annotated[
        tuple[str, ...],
        setting(
            "inputs: CSV with a header, JSON lines or Parquet; files, folders or globs ('data/*.csv', 's3://b/2025/**'),"
            " local or URLs (s3://, https://); gzip/zstd ok; - for stdin",
            positional=True,
            metavar="PATH",
        ),
    ]
    format: Annotated[
        Format,
        setting(
            "record format; auto: by extension after .gz/.zst, else by content (Parquet: its magic bytes); lines: each"
            " line's bytes are the value, unchecked (as kcat -P -l sends a file)"
        ),
    ] = "auto"
    recursive: Annotated[bool, setting("a folder's files at every depth (default: the files directly in it)")] = False
    include: Annotated[
        str | None,
        setting("of the files a folder or glob holds, read only those whose name matches one of these globs",
                metavar="GLOB,..."),
    ] = None  # fmt: skip
    exclude: Annotated[
        str | None,
        setting(
            "of the files a folder or glob holds, never read those whose name matches one of these globs (names starting"
            " with . or _ and ending .tmp, .partial, .crc are skipped anyway, unless --include names them)",
            metavar="GLOB,...",
        ),
    ] = None
    follow: Annotated[
        bool,
        setting(
            "after a file's end, keep reading what is appended, as tail -F does: a file rotated (renamed away and"
            " replaced, or copied and truncated) or deleted is finished and the new one followed"
        ),
    ] = False
    watch: Annotated[
        bool,
        setting(
            "with a folder or glob: replay files that appear in it later too, each once, in name order (written under"
            " a temporary name and renamed into place; or see --settle)"
        ),
    ] = False
    settle: Annotated[
        float,
        setting(
            "--watch: take a new file once its size and modification time have not changed for this long (0: at once,"
            " for writers that rename a finished file into place)",
            ge=0,
            metavar="SECONDS",
        ),
    ] = 0.0
    poll_interval: Annotated[float, setting("--watch: how often folders and globs are listed again", gt=0, metavar="SECONDS")] = (
        1.0
    )
    idle_exit: Annotated[
        float | None,
        setting("--follow, --watch: end the run once nothing new has come for this long (default: run until stopped)",
                gt=0, metavar="SECONDS"),
    ] = None  # fmt: skip
    columns: Annotated[
        str | None, setting("send only these fields, in this order (Parquet: read only these columns)", metavar="A,B,C")
    ] = None
    datetime: Annotated[
        DatetimeMode,
        setting(
            "how timestamps (Parquet's; fields --schema types as datetimes) are written into the JSON value: iso"
            " (2025-11-01T00:05:00), sql (2025-11-01 00:05:00, what Flink parses), epoch-ms, epoch-us (a timestamp"
            " without a zone is taken as UTC)"
        ),
    ] = "iso"
    schema: Annotated[
        str | None, setting("validate records against a msgspec Struct ('rides' is built in)", metavar="NAME|MODULE:STRUCT")
    ] = None
    delimiter: Annotated[
        str | None,
        setting("CSV's field separator: one ASCII character such as ; or |, or tab (default: a tab for .tsv and .tab"
                " files, else a comma)",
                metavar="CHAR"),
    ] = None  # fmt: skip
    key_field: Annotated[str | None, setting("record field whose value becomes the message key", metavar="NAME")] = None
    key_delimiter: Annotated[
        str | None,
        setting(
            "lines and JSON lines: the text before a line's first DELIM is the key, the rest the value (kcat's -K; a"
            " line without it has no key); tab for a tab",
            metavar="DELIM",
        ),
    ] = None
    workers: Annotated[int, setting("decoding coroutines", ge=1, metavar="N")] = 2
    decode_processes: Annotated[
        int | None,
        setting(
            "decode in N processes to use more cores (default: 2 for input over 32 MiB that is CSV without pyarrow,"
            " or written as Avro; else 0)",
            ge=0,
            metavar="N",
        ),
    ] = None
    queue_size: Annotated[int, setting("chunks between reader and workers", ge=1, metavar="N")] = 8
    chunk_bytes: Annotated[
        int | None,
        setting("bytes read at a time; a chunk holds whole records (default: 1 MiB; CSV 512 KiB)", ge=1, metavar="N"),
    ] = None
    max_errors: Annotated[int | None, setting("stop after N invalid lines (default: no limit)", ge=0, metavar="N")] = None
    limit: Annotated[
        int | None, setting("replay only the first N records (lines; CSV and Parquet rows), like head -n", ge=1, metavar="N")
    ] = None
    shard: Annotated[
        str | None,
        setting(
            "replay only shard I of N (0-based): N runs of the same command send every record once; N alone takes I"
            " from $JOB_COMPLETION_INDEX",
            metavar="I/N",
        ),
    ] = None
    shard_by: Annotated[
        ShardBy,
        setting(
            "input: each shard reads its own files and byte ranges (per-key order within a shard); partition: each"
            " reads everything and sends the partitions p with p %% N == I (per-key order across shards)"
        ),
    ] = "input"
    processes: Annotated[
        int | Literal["auto"],
        setting(
            "replay in N processes, each sending its share of the partitions (per-key order kept); auto: one per core",
            metavar="N|auto",
        ),
    ] = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.paths:
            raise config_error("no input given ({paths})")
        if self.shard_by != "input" and self.shard is None:
            raise config_error("{shard_by} partition needs {shard}")
        if isinstance(self.processes, int) and self.processes < 1:
            raise config_error("{processes} must be at least 1 (or auto)")
        if self.follow and "-" in self.paths:
            raise config_error("stdin ('-') is sent as it arrives already; {follow} is for files (tail -F FILE | pump"
                               " replay - reads a followed file through a pipe)")  # fmt: skip
        if self.live and (self.shard is not None or self.processes != 1):
            raise config_error("{follow} and {watch} read in one process: drop {shard} and {processes}")
        if (self.settle or self.idle_exit) and not self.live:
            raise config_error("{settle} and {idle_exit} are for {follow} or {watch}")
        if self.key_delimiter is not None:
            if not self.key_delimiter or "\n" in self.key_delimiter:
                raise config_error("{key_delimiter} must be some text without a line end")
            if self.key_field is not None:
                raise config_error("{key_delimiter} takes the key from the line's start; {key_field} from a field: give one")
            if self.format in ("csv", "parquet"):
                raise config_error("{key_delimiter} is for lines and JSON lines, not " + self.format)
        if self.columns is not None and not self.column_list:
            raise config_error("{columns} names no column")
        d = self.field_delimiter
        if d is not None and (len(d) != 1 or not d.isascii() or d in '"\r\n ' or d.isalnum()):
            raise config_error("{delimiter} must be one ASCII character other than a letter, digit, space, quote or"
                               " line end, or tab; not " + verbatim(repr(self.delimiter)))  # fmt: skip

    @property
    def live(self) -> bool:
        """Inputs read as they grow and appear (``--follow``, ``--watch``), not once to their ends."""
        return self.follow or self.watch

    @property
    def key_separator(self) -> str | None:
        """``key_delimiter`` as the text (``tab`` and ``\\t`` spelled out: a tab)."""
        return "\t" if self.key_delimiter in ("tab", "\\t") else self.key_delimiter

    @property
    def field_delimiter(self) -> str | None:
        """``delimiter`` as the character (``tab`` and ``\\t`` spelled out: a tab)."""
        return "\t" if self.delimiter in ("tab", "\\t") else self.delimiter

    @property
    def column_list(self) -> tuple[str, ...] | None:
        """``columns`` as names (``"A, B"`` -> ``("A", "B")``), or None for every column."""
        if self.columns is None:
            return None
        return tuple(name.strip() for name in self.columns.split(",") if name.strip())


class ProducerSettings(_Group):
    """The cluster, the topic's creation, and how the producer batches and acknowledges."""

    bootstrap_servers: Annotated[
        str,
        setting("HOST:PORT[,...], or 'embedded' for a throwaway local broker", env="PUMP_BOOTSTRAP_SERVERS", metavar="SERVERS"),
    ] = "localhost:9092"
    create_topic: Annotated[bool, setting("create the topic if it does not exist")] = False
    partitions: Annotated[int, setting("partitions when the topic is created", ge=1, metavar="N")] = 1
    replication_factor: Annotated[int, setting("replication when the topic is created", ge=1, metavar="N")] = 1
    acks: Annotated[Acks, setting("acknowledgements a send waits for (all: every in-sync replica, as Kafka's clients)")] = "all"
    idempotence: Annotated[
        Idempotence,
        setting(
            "idempotent producer: retries never duplicate or reorder a record. auto: on when acks is all and the broker"
            " accepts it (else one warning, and on without it); on (also --idempotence alone): required; off",
            const="on",
        ),
    ] = "auto"
    linger: Annotated[float, setting("how long a batch waits to fill", flag="--linger-ms", flag_unit="ms", ge=0)] = 0.005
    batch_bytes: Annotated[int, setting("largest batch", ge=1, metavar="N")] = 1 << 20
    max_message_bytes: Annotated[
        int, setting("larger records fail as too_large (Kafka's default is 1 MiB too)", ge=1, metavar="N")
    ] = 1 << 20
    compression: Annotated[Compression, setting("batch compression")] = "none"
    connect_timeout: Annotated[float, setting("how long connecting may take", gt=0, metavar="SECONDS")] = 10.0
    options: Annotated[
        dict[str, str],
        setting("any other aiokafka producer argument (repeatable)", flag="-X", metavar="KEY=VALUE"),
    ] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.idempotence == "on" and self.acks != "all":
            raise config_error("{idempotence} on needs {acks} all (every in-sync replica must have a record before it counts)")


class SecuritySettings(_Group):
    """TLS and SASL. The password comes from ``$PUMP_SASL_PASSWORD`` or a file, never a flag."""

    security_protocol: Annotated[SecurityProtocol, setting("how to talk to the brokers")] = "PLAINTEXT"
    ssl_cafile: Annotated[str | None, setting("CA bundle that signed the brokers' certificates", metavar="FILE")] = None
    ssl_certfile: Annotated[str | None, setting("client certificate (mutual TLS)", metavar="FILE")] = None
    ssl_keyfile: Annotated[str | None, setting("client private key (mutual TLS)", metavar="FILE")] = None
    sasl_mechanism: Annotated[SaslMechanism | None, setting("SASL mechanism (default PLAIN)")] = None
    sasl_username: Annotated[str | None, setting("SASL user", metavar="USER")] = None
    sasl_password: Annotated[
        Secret | None, setting("SASL password", cli=False, via="$PUMP_SASL_PASSWORD or --sasl-password-file")
    ] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        sasl = self.security_protocol.startswith("SASL")
        if sasl and not (self.sasl_username and self.sasl_password):
            raise config_error("{security_protocol} " + self.security_protocol + " needs {sasl_username} and {sasl_password}")
        if not sasl and (self.sasl_mechanism or self.sasl_username):
            raise config_error("{sasl_mechanism} and {sasl_username} need {security_protocol} SASL_PLAINTEXT or SASL_SSL")
        if not self.security_protocol.endswith("SSL") and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise config_error("{ssl_cafile}, {ssl_certfile} and {ssl_keyfile} need {security_protocol} SSL or SASL_SSL")


class DeliverySettings(_Group):
    """How records are sent, how many may be in flight, how long they may take, where failures go."""

    mode: Annotated[ModeName, setting("send mode")] = "batch"
    max_in_flight: Annotated[int, setting("records sent but not yet acknowledged", ge=1, metavar="N")] = 65536
    delivery_timeout: Annotated[
        float,
        setting("how long a send may take, retries of retriable errors included", gt=0, aliases=("--request-timeout",),
                metavar="SECONDS"),
    ] = 30.0  # fmt: skip
    shutdown_timeout: Annotated[
        float, setting("on SIGINT/SIGTERM, how long to wait for records in flight", ge=0, metavar="SECONDS")
    ] = 30.0
    dead_letter: Annotated[
        str | None,
        setting("where invalid lines and undeliverable records go, raw, with the reason", metavar="PATH|topic:NAME"),
    ] = None
    rate: Annotated[float | None, setting("at most N records a second, smoothly (default: as fast as it goes)", gt=0,
                                          metavar="N")] = None  # fmt: skip
    time_field: Annotated[
        str | None,
        setting(
            "the record field holding its event time (a timestamp; ISO 8601 or yyyy-MM-dd HH:mm:ss[.fff] text, without a"
            " zone taken as UTC; or epoch milliseconds), for --speed and --record-timestamp",
            metavar="NAME",
        ),
    ] = None
    speed: Annotated[
        float | Literal["max"],
        setting("replay by event time, X times faster than it happened (1: real time; max: no pacing)", metavar="X|max"),
    ] = "max"
    max_gap: Annotated[
        float,
        setting("with --speed: a jump in event time larger than this is not waited for (counted as skipped)", gt=0,
                metavar="SECONDS"),
    ] = 60.0  # fmt: skip
    record_timestamp: Annotated[
        RecordTimestamp,
        setting(
            "each Kafka record's timestamp: create (the producer's clock), event (its --time-field), shifted (its"
            " --time-field moved so that the run's first record is now, the gaps kept)"
        ),
    ] = "create"
    headers: Annotated[
        dict[str, str], setting("a Kafka header on every record (repeatable)", flag="--header", metavar="KEY=VALUE")
    ] = msgspec.field(default_factory=dict)
    source_headers: Annotated[
        bool, setting("give each record the headers pump.file and pump.line (pump.row for Parquet): where it came from")
    ] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dead_letter is not None and self.dead_letter in ("", "topic:"):
            raise config_error("{dead_letter} needs a PATH or topic:NAME")
        if self.speed != "max":
            if not self.speed > 0:
                raise config_error("{speed} must be above 0 (or max)")
            if self.time_field is None:
                raise config_error("{speed} needs {time_field}: the field that holds each record's event time")
        if self.record_timestamp != "create" and self.time_field is None:
            raise config_error(f"{{record_timestamp}} {self.record_timestamp} needs {{time_field}}")

    @property
    def event_paced(self) -> bool:
        return self.speed != "max"


class TransactionSettings(_Group):
    """Exactly once: records and their input positions committed together, in Kafka transactions."""

    exactly_once: Annotated[
        bool,
        setting(
            "send in Kafka transactions, each holding a stretch of records and the input position they reach (written to"
            " --positions-topic): a run resumes there from any machine, and read_committed consumers see every record"
            " once"
        ),
    ] = False
    positions_topic: Annotated[
        str, setting("the compacted topic holding each job's committed input positions (created if missing)", metavar="TOPIC")
    ] = "pump-positions"
    transactional_id: Annotated[
        str | None,
        setting(
            "the producer's transactional id, and the key of its positions (default: from the topic, the inputs and"
            " --shard; the same on every restart)",
            metavar="ID",
        ),
    ] = None
    transaction_interval: Annotated[
        float, setting("a transaction commits after this long", flag="--transaction-ms", flag_unit="ms", gt=0)
    ] = 1.0
    transaction_records: Annotated[int, setting("a transaction commits after this many records", ge=1, metavar="N")] = 100_000


class ValueSettings(_Group):
    """The values' format: JSON as read, or Avro / JSON Schema in Confluent's wire format, through a Schema Registry.
    The registry's password comes from ``$PUMP_REGISTRY_PASSWORD`` or a file, never a flag."""

    value_format: Annotated[
        ValueFormat,
        setting(
            "json: each record's JSON as it is; avro, json-schema: Confluent's wire format (a magic byte, the schema's"
            " id, the body), the schema registered in --schema-registry"
        ),
    ] = "json"
    value_schema: Annotated[
        str | None,
        setting(
            "the value schema: .avsc for avro, a JSON Schema document for json-schema (default: derived from a Parquet"
            " input's columns or from --schema; pump schema shows it)",
            metavar="FILE",
        ),
    ] = None
    schema_registry: Annotated[
        str | None, setting("the Schema Registry's URL (Confluent's API)", env="PUMP_SCHEMA_REGISTRY", metavar="URL")
    ] = None
    subject: Annotated[str | None, setting("the subject the schema is registered under (default: TOPIC-value)",
                                           metavar="NAME")] = None  # fmt: skip
    auto_register: Annotated[
        bool,
        setting(
            "register the schema under the subject (--no-auto-register: use the schema given if it is registered"
            " there, else the subject's latest version, and fail if it is not registered)"
        ),
    ] = True
    registry_user: Annotated[str | None, setting("the registry's basic-auth user", metavar="USER")] = None
    registry_password: Annotated[
        Secret | None,
        setting("the registry's basic-auth password", cli=False, via="$PUMP_REGISTRY_PASSWORD or --registry-password-file"),
    ] = None
    registry_cafile: Annotated[str | None, setting("CA bundle that signed the registry's certificate", metavar="FILE")] = None
    encode_processes: Annotated[
        int | None,
        setting(
            "write values in N processes, after decoding (default: 2 for Avro, or values checked against a JSON Schema"
            " given, of input over 4 MiB on a multi-core machine; else 0)",
            ge=0,
            metavar="N",
        ),
    ] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.value_format == "json":
            if self.value_schema or self.schema_registry or self.subject:
                raise config_error("{value_schema}, {schema_registry} and {subject} need {value_format} avro or json-schema")
        elif self.schema_registry is None:
            raise config_error(f"{{value_format}} {self.value_format} needs {{schema_registry}}: the registry's URL")
        if self.registry_user is not None and self.registry_password is None:
            raise config_error("{registry_user} needs {registry_password}")

    @property
    def registered(self) -> bool:
        """Values in a registry's wire format (not bare JSON)."""
        return self.value_format != "json"


class CheckpointSettings(_Group):
    """Progress kept across runs: per input, how far every line is handled."""

    path: Annotated[
        str | None, setting("record progress there, and resume from it when it exists", name="checkpoint", metavar="FILE")
    ] = None
    interval: Annotated[
        float, setting("how often the checkpoint is written", name="checkpoint_interval", gt=0, metavar="SECONDS")
    ] = 5.0
    restart: Annotated[bool, setting("ignore the checkpoint's positions (e.g. for a changed file)")] = False


class ObserveSettings(_Group):
    """What a person watching sees: metrics, the progress line, the report."""

    metrics_addr: Annotated[
        str | None, setting("serve Prometheus metrics there, e.g. 127.0.0.1:9464 (off by default)", metavar="HOST:PORT")
    ] = None
    metrics_linger: Annotated[float, setting("keep serving metrics this long after the run", ge=0, metavar="SECONDS")] = 0.0
    pushgateway: Annotated[str | None, setting("push the final metrics to this Prometheus Pushgateway", metavar="URL")] = None
    progress: Annotated[bool, setting("a progress line on stderr when it is a terminal (--no-progress: none)")] = True
    report_json: Annotated[str | None, setting("write the end-of-run report as JSON", metavar="FILE")] = None
    max_invalid_shown: Annotated[int, setting("invalid lines listed in the report", ge=0, metavar="N")] = 10


class ReplayConfig(_Group):
    """A replay: which inputs go to which topic, and how. Build it grouped, or flat with ``of()``."""

    topic: Annotated[str, setting("the topic to replay into", metavar="TOPIC")]
    input: InputSettings
    producer: ProducerSettings = msgspec.field(default_factory=ProducerSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    delivery: DeliverySettings = msgspec.field(default_factory=DeliverySettings)
    transactions: TransactionSettings = msgspec.field(default_factory=TransactionSettings)
    values: ValueSettings = msgspec.field(default_factory=ValueSettings)
    checkpoint: CheckpointSettings = msgspec.field(default_factory=CheckpointSettings)
    observe: ObserveSettings = msgspec.field(default_factory=ObserveSettings)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.topic:
            raise config_error("{topic} must not be empty")
        if self.delivery.event_paced and self.input.processes != 1:
            raise config_error("{speed} paces one process's replay by event time: it needs {processes} 1")
        if self.transactions.exactly_once:
            self._check_exactly_once()
        if self.values.registered and self.input.datetime != "iso":
            raise config_error(f"{{datetime}} shapes JSON values; {{value_format}} {self.values.value_format} writes"
                               " timestamps as its schema says")  # fmt: skip

    def _check_exactly_once(self) -> None:
        if self.producer.acks != "all" or self.producer.idempotence == "off":
            raise config_error("{exactly_once} needs {acks} all and the idempotent producer ({idempotence} auto or on)")
        if self.checkpoint.path is not None:
            raise config_error("{exactly_once} keeps its positions in Kafka ({positions_topic}): drop {checkpoint}")

    @classmethod
    def of(cls, paths: str | list[str] | tuple[str, ...], topic: str, **settings: Any) -> ReplayConfig:
        """A config from flat keywords named as in ``SETTINGS`` (``key_field=``, ``mode=``, ``checkpoint=``...)."""
        groups: dict[str, dict[str, Any]] = {}
        for name, value in settings.items():
            found = SETTINGS.get(name)
            if found is None or not found.group:
                raise ConfigError(f"ReplayConfig.of: no setting named {name!r}")
            groups.setdefault(found.group, {})[found.field] = value
        paths = (paths,) if isinstance(paths, str) else tuple(paths)
        built = {group: GROUPS[group](**values) for group, values in groups.items() if group != "input"}
        return cls(topic=topic, input=InputSettings(paths=paths, **groups.get("input", {})), **built)


GROUPS: dict[str, type[_Group]] = {
    "input": InputSettings,
    "producer": ProducerSettings,
    "security": SecuritySettings,
    "delivery": DeliverySettings,
    "transactions": TransactionSettings,
    "values": ValueSettings,
    "checkpoint": CheckpointSettings,
    "observe": ObserveSettings,
}


@dataclass(frozen=True)
class Setting:
    """One setting, as every consumer sees it. ``name`` is flat and unique across groups."""

    name: str
    group: str  # "" for ReplayConfig's own fields
    field: str
    type: mi.Type
    default: Any
    help: str
    extra: dict[str, Any]

    @property
    def qualified(self) -> str:
        return f"{self.group}.{self.field}" if self.group else self.field

    @property
    def flag(self) -> str | None:
        if self.extra.get("cli", True) is False or self.extra.get("positional"):
            return None
        if self.extra.get("flag"):
            return str(self.extra["flag"])
        if self.default is True:
            return "--no-" + self.name.replace("_", "-")
        return "--" + self.name.replace("_", "-")


def _settings_of(cls: type[msgspec.Struct], group: str) -> list[Setting]:
    found = []
    for f in mi.type_info(cls).fields:  # type: ignore[union-attr]
        kind = f.type
        if isinstance(kind, mi.StructType):
            continue
        assert isinstance(kind, mi.Metadata) and kind.extra is not None, f"{cls.__name__}.{f.name} has no setting()"
        extra = dict(kind.extra)
        default = f.default if f.default_factory is mi.NODEFAULT else f.default_factory()
        help_text = (kind.extra_json_schema or {}).get("description", "")
        found.append(Setting(extra.pop("name") or f.name, group, f.name, kind.type, default, help_text, extra))
    return found


def _all_settings() -> dict[str, Setting]:
    table = {s.name: s for s in _settings_of(ReplayConfig, "")}
    for group, cls in GROUPS.items():
        for s in _settings_of(cls, group):
            assert s.name not in table, f"setting name {s.name!r} is used twice"
            table[s.name] = s
    return table


def verbatim(text: object) -> str:
    """``text`` for a ``config_error`` template, its braces kept as they are."""
    return str(text).replace("{", "{{").replace("}", "}}")


E = TypeVar("E", bound=PumpError)


def named(cls: type[E], template: str) -> E:
    """An error of ``cls`` whose ``{name}`` fields are settings, shown to library callers as ``group.field``."""
    error = cls(template.format_map({name: _qualified(name) for name in _fields(template)}))
    error.template = template
    return error


def config_error(template: str) -> ConfigError:
    return named(ConfigError, template)


def _qualified(name: str) -> str:
    found = SETTINGS.get(name)
    return found.qualified if found is not None else name


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@functools.cache
def _declared(cls: type[msgspec.Struct]) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(attribute, setting name, type to check values against, extras) for every setting of a group."""
    hints = typing.get_type_hints(cls)  # without Annotated: the plain types msgspec checks values against
    found = []
    for f in mi.type_info(cls).fields:  # type: ignore[union-attr]
        if isinstance(f.type, mi.StructType):
            continue
        extra = getattr(f.type, "extra", None) or {}
        checked = None if isinstance(_plain(f.type), mi.CustomType) else hints[f.name]  # a Secret: checked by isinstance below
        found.append((f.name, extra.get("name") or f.name, checked, extra))
    return found


def _plain(kind: mi.Type) -> mi.Type:
    kind = kind.type if isinstance(kind, mi.Metadata) else kind
    if isinstance(kind, mi.UnionType):
        kinds = [k for k in kind.types if not isinstance(k, mi.NoneType)]
        return kinds[0] if len(kinds) == 1 else kind
    return kind


def _check_constraints(group: msgspec.Struct) -> None:
    for attr, name, checked, extra in _declared(type(group)):
        value = getattr(group, attr)
        if checked is not None:
            try:
                msgspec.convert(value, checked, strict=True)
            except msgspec.ValidationError as exc:
                raise config_error(f"{{{name}}} {verbatim(repr(value))}: {verbatim(exc)}") from None
        elif value is not None and not isinstance(value, Secret):
            raise config_error(f"{{{name}}} must be a pump.Secret (its repr hides the value)")
        for op in ("ge", "gt"):
            if op in extra and value is not None:
                _check_bound(name, value, op, extra[op])


def _check_bound(name: str, value: float, op: str, bound: float) -> None:
    if value >= bound if op == "ge" else value > bound:
        return
    if op == "gt" and bound == 0:
        raise config_error(f"{{{name}}} must be positive")
    if bound == 0:
        raise config_error(f"{{{name}}} must not be negative")
    raise config_error(f"{{{name}}} must be at least {bound:g}")


SETTINGS: dict[str, Setting] = _all_settings()
