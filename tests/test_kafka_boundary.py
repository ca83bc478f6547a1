"""The aiokafka boundary, without a broker: producer arguments built from settings, refused -X options,
and the one-line explanations of failed handshakes."""

from __future__ import annotations

import asyncio
import collections
import logging

import pytest
from aiokafka.conn import AIOKafkaProtocol
from aiokafka.errors import (
    KafkaConnectionError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
)
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition

from pump import ConfigError, ReplayConfig
from pump.cli.options import flag_of
from pump.decode.lines import LineIndex
from pump.decode.parsed import Columns, FramedRows
from pump.decode.partition import Partitioner
from pump.output.kafka import KafkaCluster
from pump.output.kafka.batch import KafkaBatch
from pump.output.kafka.closing import closing, settle
from pump.output.kafka.errors import explain, failure_of
from pump.output.kafka.expiry import Expired, fail_expired, outstanding
from pump.output.kafka.framing import ArrowFramer
from pump.output.kafka.logs import SENDER, Tap
from pump.output.kafka.options import OWNED, coerce, producer_kwargs
from tests.support.framing import framed_chunk, held_to_aiokafka


def kwargs(**settings: object) -> dict:
    return producer_kwargs(ReplayConfig.of("x.jsonl", "t", **settings), "b1:9092,b2:9092")


def test_producer_arguments_come_from_the_settings_in_aiokafkas_units() -> None:
    got = kwargs(linger=0.02, batch_bytes=65536, max_message_bytes=2 << 20, compression="zstd", delivery_timeout=45.5)
    assert got["bootstrap_servers"] == ["b1:9092", "b2:9092"]
    assert (got["linger_ms"], got["max_batch_size"], got["max_request_size"]) == (20, 65536, 2 << 20)
    assert (got["compression_type"], got["request_timeout_ms"]) == ("zstd", 45500)
    assert kwargs(compression="none")["compression_type"] is None


def test_by_default_the_producer_is_idempotent_with_acks_all_as_kafkas_own_clients() -> None:
    assert (kwargs()["acks"], kwargs()["enable_idempotence"]) == ("all", True)
    assert (kwargs(acks="1")["acks"], kwargs(acks="1")["enable_idempotence"]) == (1, False)  # auto yields to acks
    assert (kwargs(acks="0")["acks"], kwargs(idempotence="off")["enable_idempotence"]) == (0, False)
    assert kwargs(idempotence="on")["enable_idempotence"] is True
    with pytest.raises(ConfigError, match=r"producer\.idempotence on needs producer\.acks all"):
        kwargs(idempotence="on", acks="1")


def test_sync_mode_never_lingers() -> None:
    assert kwargs(mode="sync", linger=0.05)["linger_ms"] == 0


def test_other_x_options_pass_through_typed() -> None:
    got = kwargs(options={"retry_backoff_ms": "250", "client_id": "replayer", "allow_auto_create_topics": "false"})
    assert (got["retry_backoff_ms"], got["client_id"], got["allow_auto_create_topics"]) == (250, "replayer", False)
    assert [coerce(v) for v in ("1.5", "TRUE", "x")] == [1.5, True, "x"]


@pytest.mark.parametrize("key", sorted(OWNED))
def test_an_x_option_that_a_setting_sets_is_refused_naming_both(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        kwargs(options={key: "2000"})
    flag = flag_of(OWNED[key])
    assert caught.value.render(flag_of) == f"-X {key}=2000 sets what {flag} sets; use {flag}"
    assert str(caught.value).startswith(f"producer.options {key}=2000 sets what ")


def test_the_delivery_timeout_bug_is_refused_not_silently_overridden() -> None:
    with pytest.raises(ConfigError, match=r"request_timeout_ms=2000 sets what delivery\.delivery_timeout sets"):
        kwargs(options={"request_timeout_ms": "2000"}, delivery_timeout=120.0)


@pytest.mark.parametrize(
    ("cause", "protocol", "said"),
    [
        ('Unable connect to "127.0.0.1:1": [Errno 111] Connect call failed', "PLAINTEXT",
         "connection refused: is a broker listening there?"),
        ("Unable connect to \"h:9093\": [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
         " in certificate chain (_ssl.c:1006)", "SSL",
         "TLS certificate not trusted (certificate verify failed: self-signed certificate in certificate chain);"
         " check --ssl-cafile"),
        ('Unable connect to "h:9093": [SSL: WRONG_VERSION_NUMBER] wrong version number', "SSL",
         "TLS handshake failed ([SSL: WRONG_VERSION_NUMBER] wrong version number); does the listener speak TLS?"
         " (--security-protocol SSL)"),
        ("Unable connect to \"h:1\": Connection at h:1 closed", "PLAINTEXT",
         "the broker closed the connection during the handshake (PLAINTEXT): it may require authentication or TLS"
         " (--security-protocol SASL_PLAINTEXT, SSL or SASL_SSL)"),
        ('Unable connect to "h:1": [Error 58] SaslAuthenticationFailed: Authentication failed during authentication due to'
         " invalid credentials with SASL mechanism SCRAM-SHA-512", "SASL_SSL",
         "SASL authentication failed: Authentication failed during authentication due to invalid credentials with SASL"
         " mechanism SCRAM-SHA-512"),
        ("Unable connect to \"h:1\": Connection at h:1 closed", "SASL_PLAINTEXT",
         "SASL authentication failed: the broker closed the connection (wrong user or password, or a refused mechanism)"),
    ],
)  # fmt: skip
def test_handshake_failures_are_explained_in_one_line(cause: str, protocol: str, said: str) -> None:
    template = explain(cause, protocol)
    assert template.format_map({name: flag_of(name) for name in ("ssl_cafile", "security_protocol")}) == said


def test_too_few_replicas_is_a_reason_of_its_own_also_when_pump_expired_the_batch() -> None:
    assert failure_of(NotEnoughReplicasError()).reason == "not_enough_replicas"
    # written to the leader's log before the replicas fell short: it may reach the topic, so the outcome is unknown
    assert failure_of(NotEnoughReplicasAfterAppendError()).reason == "timeout"
    assert failure_of(Expired(30, NotEnoughReplicasAfterAppendError)).reason == "timeout"
    expired = failure_of(Expired(30, NotEnoughReplicasError))  # the sender logs the error's class
    assert (expired.reason, expired.message) == (
        "not_enough_replicas",
        "not acknowledged within 30 s; the broker last answered NOT_ENOUGH_REPLICAS",
    )
    # any other last answer, or none: the outcome is unknown, which is what "timeout" means
    assert failure_of(Expired(30, NotLeaderForPartitionError)).reason == "timeout"
    unknown = failure_of(Expired(2.5, None))
    assert (unknown.reason, unknown.message) == ("timeout", "not acknowledged within 2.5 s")


def test_the_log_tap_remembers_each_partitions_last_retriable_error_and_counts_retries() -> None:
    retries: list[int] = []
    tap = Tap(lambda: retries.append(1))
    tap.attach()
    try:
        with tap.starting():  # records made in the tap's context only
            sender = logging.getLogger(SENDER)
            sender.warning("Got error produce response on topic-partition %s, retrying. Error: %s",
                           TopicPartition("t", 2), NotEnoughReplicasError)  # fmt: skip
            sender.warning("Got error produce response: %s", KafkaConnectionError("gone"))
        logging.getLogger(SENDER).warning("Got error produce response: %s", KafkaConnectionError("not ours"))
    finally:
        tap.detach()
    assert tap.last_errors == {2: NotEnoughReplicasError}
    assert len(retries) == 2


@pytest.mark.parametrize("direct", [True, False])
def test_a_batch_filled_by_extend_holds_what_appends_would_and_stops_where_it_must(direct: bool) -> None:
    records = [(None if i % 7 == 0 else b"k%d" % i, b"v" * (i % 50) + b"%d" % i, i + 1) for i in range(5000)]
    records[30] = (b"big", b"x" * 3000, 31)  # over the limit below: extend stops before it
    batch = KafkaBatch(BatchBuilder(64 * 1024, 0))
    batch._direct = direct
    reached, nbytes = batch.extend(records, 0, len(records), 2048)
    assert (reached, nbytes) == (30, sum(len(v) for _, v, _ in records[:30]))
    assert not batch.builder.closed()
    reached, nbytes = batch.extend(records, 31, len(records), 2048)  # on after it, until the batch is full
    assert 31 < reached < len(records) and batch.builder.closed()
    assert batch.extend(records, reached, len(records), 2048) == (reached, 0)
    expected = records[:30] + records[31:reached]
    assert batch.builder.record_count() == len(expected)
    written = list(DefaultRecordBatch(batch.builder._build()))
    assert [(r.offset, r.key, r.value) for r in written] == [(i, k, v) for i, (k, v, _) in enumerate(expected)]


@pytest.mark.parametrize(
    ("keyed", "limit", "cap", "partitions", "transactional"),
    [(True, 1 << 20, 65536, 5, False), (True, 4096, 65536, 5, False), (True, 1 << 20, 7, 5, False),
     (False, 1 << 20, 65536, 5, False), (False, 3000, 40, 5, False), (True, 4096, 65536, 1, False),
     (True, 4096, 65536, 5, True), (False, 1 << 20, 65536, 5, True)],
)  # fmt: skip
def test_framed_batches_are_byte_for_byte_what_aiokafkas_builder_makes_of_the_same_records(
    keyed: bool, limit: int, cap: int, partitions: int, transactional: bool
) -> None:
    n = 600
    keys = [b"" if i % 11 == 0 else b"k%d" % (i % 37) for i in range(n)] if keyed else None
    values = [b"v" * (i % 90) + b"%d" % i for i in range(n)]
    framed = held_to_aiokafka(keys, values, partitions, limit, cap, transactional)
    assert all(DefaultRecordBatch(bytes(data)).is_transactional == transactional for _, data, *_ in framed)
    if limit < 1 << 20 or cap < n:
        records = [(None if keys is None else keys[i], values[i], 10 + i) for i in range(n)]
        assert len(framed) > len(Partitioner(partitions).group(records, 3))  # cut into batches that fit


def test_a_chunk_is_not_framed_where_aiokafka_must_take_its_records_one_by_one() -> None:
    values = [b"x" * 100, b"y" * 5000]
    assert framed_chunk([b"a", b"b"], values, 3, 1 << 20, 65536) is not None
    assert framed_chunk([b"a", b"b"], values, 3, 4096, 65536) is None  # a record no batch holds: it fails on its own
    framer = ArrowFramer(Partitioner(3), 1 << 20, max_value=1000, cap=65536)  # a value over --max-message-bytes
    import pyarrow as pa

    assert framer.frame(Columns(None, pa.array(values, pa.binary()), 1), 0) is None


@pytest.mark.parametrize("keyed", [True, False])
def test_framed_rows_values_come_back_by_line_for_their_dead_letters(keyed: bool) -> None:
    n = 300
    keys = [b"" if i % 5 == 0 else b"k%d" % i for i in range(n)] if keyed else None
    values = [b"v" * (i * 67 % 20_000) + b"%d" % i for i in range(n)]  # one-, two- and three-byte lengths
    framed = framed_chunk(keys, values, 4, 1 << 20, 65536)
    assert framed is not None
    index = LineIndex(FramedRows("t.parquet", 10, 9, n, 0, framed))
    assert [index.raw(10 + i) for i in range(n)] == values
    assert [index.of(10 + i) for i in (0, n - 1)] == [9, 9 + n - 1]  # a row's index


async def test_only_batches_aiokafka_would_send_as_they_are_are_framed() -> None:
    async def framer(**settings: object) -> ArrowFramer | None:
        cluster = KafkaCluster(ReplayConfig.of(["in.csv"], "t", bootstrap_servers="localhost:1", **settings), "localhost:1")
        sink = cluster.sink("t", 1)
        await sink._producer.stop()  # never started: nothing to wait for
        return sink.framer(Partitioner(1), 1 << 20, 65536)

    assert await framer(acks="1") is not None
    assert await framer(acks="all", idempotence="on") is not None  # numbered as they are sent
    assert await framer(acks="1", compression="zstd") is None
    assert await framer(acks="1", headers={"h": "v"}) is None
    transactional = await framer(acks="all", exactly_once=True, transactional_id="job")
    assert transactional is not None and transactional.attributes == 0x10  # marked as a transaction's


class _ClosingTransport:
    def __init__(self, closing: bool) -> None:
        self.closing = closing

    def is_closing(self) -> bool:
        return self.closing


async def test_the_exit_waits_for_connections_aiokafka_closed_without_waiting() -> None:
    loop = asyncio.get_running_loop()
    closing_fut, open_fut = loop.create_future(), loop.create_future()
    closing_conn = AIOKafkaProtocol(closing_fut, asyncio.StreamReader(), loop=loop)
    open_conn = AIOKafkaProtocol(open_fut, asyncio.StreamReader(), loop=loop)
    closing_conn._transport, open_conn._transport = _ClosingTransport(True), _ClosingTransport(False)  # type: ignore[assignment]
    assert closing(loop) == [closing_fut]  # a live connection (another replay's, say) is not waited for
    loop.call_later(0.05, closing_fut.set_result, None)
    await settle()
    assert closing_fut.done() and not open_fut.done()


class _Batch:
    """What ``expiry`` reads of aiokafka's MessageBatch."""

    def __init__(self, partition: int) -> None:
        self.tp = TopicPartition("t", partition)
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def expired(self) -> bool:
        return True

    def failure(self, exception: BaseException) -> None:
        self.future.set_exception(exception)


async def test_an_expired_batch_whose_request_is_unanswered_fails_as_unknown_not_as_too_few_replicas() -> None:
    queued, retried, in_flight = _Batch(0), _Batch(1), _Batch(1)
    accumulator = type("Accumulator", (), {})()
    accumulator._batches = {queued.tp: collections.deque([queued]), retried.tp: collections.deque([retried])}
    accumulator._pending_batches = {in_flight}
    producer = type("Producer", (), {"_message_accumulator": accumulator})()
    assert outstanding(producer) == [queued, retried, in_flight]  # type: ignore[arg-type]
    fail_expired(producer, 4, {0: NotEnoughReplicasError, 1: NotEnoughReplicasError})  # type: ignore[arg-type]
    reasons = [failure_of(b.future.exception()).reason for b in (queued, retried, in_flight)]  # type: ignore[arg-type]
    assert reasons == ["not_enough_replicas", "not_enough_replicas", "timeout"]


def test_produce_requests_are_encoded_to_aiokafkas_own_bytes_in_one_copy() -> None:
    """``wire``: every produce request version's ``encode`` writes what aiokafka's field-by-field encoding writes,
    for several topics, partitions, empty ones and batches held as bytes, bytearray and memoryview."""
    from aiokafka.protocol.produce import ProduceRequest

    from pump.output.kafka import wire

    assert wire.install() and wire.install()  # once, and again without a second check
    batch = bytearray(range(256)) * 50
    topics = [("rides", [(0, batch), (7, bytes(batch[:99])), (2, memoryview(batch)[5:300])]), ("empty", []), ("é", [(1, b"")])]
    for cls in ProduceRequest._CLASSES:
        assert cls.encode is wire._encode
        args = {"transactional_id": "tx" if cls.API_VERSION >= 3 else None, "required_acks": 1, "timeout": 1500, "topics": topics}
        request = cls(*[args[name] for name in cls.SCHEMA.names])
        assert request.encode() == cls.SCHEMA.encode([args[name] for name in cls.SCHEMA.names]), cls.__name__
    sent = ProduceRequest(transactional_id=None, required_acks=-1, timeout=10, topics=topics).prepare({0: (0, 7)})
    assert sent.encode().count(bytes(batch)) == 1  # the batch itself is in the request, once, unchanged


class _Writer:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.pieces = 0

    def write(self, data: bytes) -> None:
        self.frames.append(bytes(data))
        self.pieces = 1

    def writelines(self, parts: list[bytes]) -> None:
        self.frames.append(b"".join(bytes(p) for p in parts))
        self.pieces = len(parts)

    def drain(self) -> None:
        return None


class _Connection:
    """What ``AIOKafkaConnection.send`` reads of its connection."""

    _client_id = "pump"
    _host, _port, _request_timeout = "broker", 9092, 30.0

    def __init__(self) -> None:
        self._versions = {0: (0, 7), 3: (0, 1)}  # produce and metadata
        self._writer = _Writer()
        self._requests: list[object] = []

    def _next_correlation_id(self) -> int:
        return 41


def test_a_produce_request_goes_to_the_transport_in_pieces_that_make_aiokafkas_own_frame() -> None:
    from aiokafka.conn import AIOKafkaConnection
    from aiokafka.protocol.metadata import MetadataRequest
    from aiokafka.protocol.produce import ProduceRequest

    from pump.output.kafka import wire

    assert wire.install()
    send = AIOKafkaConnection.send
    aiokafkas = send.__wrapped__  # type: ignore[attr-defined]  # installed: aiokafka's send is the one it follows
    batch = bytearray(range(256)) * 40
    for request, in_pieces in [
        (ProduceRequest(None, -1, 1500, [("rides", [(0, batch), (3, bytes(9))]), ("other", [(1, batch[:7])])]), True),
        (MetadataRequest(["rides"]), False),  # any other request: aiokafka's own way, one write
    ]:
        ours, theirs = _Connection(), _Connection()
        send(ours, request, expect_response=False)
        aiokafkas(theirs, request, expect_response=False)
        assert ours._writer.frames == theirs._writer.frames and len(ours._writer.frames) == 1
        assert (ours._writer.pieces > 3) is in_pieces and (ours._writer.pieces == 1) is not in_pieces
