"""Send modes against the in-memory cluster: every record settled exactly once, none dropped between shipping and closing."""

from __future__ import annotations

import asyncio
import sys

import pytest

from pump.account import Accounts, Completion, Ledger
from pump.config import DeliverySettings
from pump.decode.parsed import Framed
from pump.input import Chunk
from pump.output import BatchMode, CallbackMode, InFlight, MemoryCluster, SyncMode, make_mode
from pump.output.memory import MemoryBatch
from pump.records import DeliveryError, Record
from tests.support.builders import chunk


def read(accounts: Accounts, c: Chunk, records: int) -> Chunk:
    accounts.read(c)
    accounts.completion.decoded(c.seq, records)
    return c


def new_accounts() -> Accounts:
    return Accounts(Ledger(), Completion())


async def test_closing_while_the_flusher_waits_for_in_flight_room_loses_no_batch() -> None:
    cluster = MemoryCluster(partitions=2, hold=True)
    accounts = new_accounts()
    async with cluster.sink("t", 2) as sink:
        mode = BatchMode(sink, accounts, InFlight(1), linger=0.001)
        for seq, part in ((0, 0), (1, 1)):
            c = read(accounts, chunk(b"x\n", seq=seq, offset=seq * 2, first_line=seq + 1), 1)
            await mode.send({part: [(b"k", b"v%d" % seq, seq + 1)]}, c)
        await asyncio.sleep(0.05)  # the flusher shipped partition 0 and now waits for room for partition 1
        assert cluster.sends == 1 and mode.inflight.used == 1
        closing = asyncio.create_task(mode.close())
        await asyncio.sleep(0.01)
        cluster.settle()  # room again: the waiting batch must still be shipped, not dropped
        await asyncio.sleep(0.01)
        cluster.settle()
        await asyncio.wait_for(closing, 2)
    assert (accounts.ledger.sent, accounts.ledger.acked) == (2, 2)
    assert accounts.completion.positions["in.jsonl"].offset == 4
    assert [m.value for m in cluster.messages("t")] == [b"v0", b"v1"]


def fail_b(key: bytes | None, value: bytes) -> DeliveryError | None:
    return DeliveryError("timeout", "no answer") if value == b"b" else None


@pytest.mark.parametrize("mode_name", ["callback", "sync"])
async def test_per_record_modes_settle_each_record_and_a_failed_one_holds_the_checkpoint(mode_name: str) -> None:
    cluster = MemoryCluster(fail=fail_b)
    accounts = new_accounts()
    async with cluster.sink("t", 1) as sink:
        mode = make_mode(DeliverySettings(mode=mode_name), sink, accounts, InFlight(10), 0.005, 1 << 20)  # type: ignore[arg-type]
        assert isinstance(mode, CallbackMode | SyncMode)
        c = read(accounts, chunk(b"a\nb\nc\n"), 3)
        records: list[Record] = [(b"k", b"a", 1), (b"k", b"b", 2), (b"k", b"c", 3)]
        await mode.send({0: records}, c)
        await mode.close()
    led = accounts.ledger
    assert (led.sent, led.acked, led.failed, dict(led.failed_by_reason)) == (3, 2, 1, {"timeout": 1})
    assert [m.value for m in cluster.messages("t")] == [b"a", b"c"]
    assert "in.jsonl" not in accounts.completion.positions  # the failed record was not dead-lettered: not handled


async def test_a_record_over_max_message_bytes_fails_alone_and_never_reaches_the_sink() -> None:
    cluster = MemoryCluster()
    accounts = new_accounts()
    async with cluster.sink("t", 1) as sink:
        mode = BatchMode(sink, accounts, InFlight(100), linger=0.001, max_message=10)
        c = read(accounts, chunk(b"1\n2\n3\n"), 3)
        await mode.send({0: [(None, b"small", 1), (None, b"x" * 11, 2), (None, b"tiny", 3)]}, c)
        await mode.close()
    assert [m.value for m in cluster.messages("t")] == [b"small", b"tiny"]
    assert (accounts.ledger.sent, accounts.ledger.acked, dict(accounts.ledger.failed_by_reason)) == (3, 2, {"too_large": 1})


async def test_batch_mode_ships_full_batches_at_once_and_the_rest_when_closed() -> None:
    cluster = MemoryCluster(batch_capacity=4)
    accounts = new_accounts()
    async with cluster.sink("t", 1) as sink:
        mode = BatchMode(sink, accounts, InFlight(100), linger=60)  # never lingers out during the test
        c = read(accounts, chunk(b"x\n" * 10), 10)
        await mode.send({0: [(None, b"%d" % i, i + 1) for i in range(10)]}, c)
        assert cluster.sends == 2  # two full batches of 4
        await mode.close()
    assert cluster.sends == 3 and [m.value for m in cluster.messages("t")] == [b"%d" % i for i in range(10)]


async def test_a_batch_never_holds_more_records_than_may_be_in_flight() -> None:
    cluster = MemoryCluster(batch_capacity=1000, hold=True)
    accounts = new_accounts()
    async with cluster.sink("t", 1) as sink:
        inflight = InFlight(3)
        mode = BatchMode(sink, accounts, inflight, linger=60)
        c = read(accounts, chunk(b"x\n" * 10), 10)
        sending = asyncio.create_task(mode.send({0: [(None, b"%d" % i, i + 1) for i in range(10)]}, c))
        while not sending.done():
            assert accounts.ledger.in_flight <= 3
            cluster.settle()
            await asyncio.sleep(0.001)
        closing = asyncio.create_task(mode.close())
        while not closing.done():
            cluster.settle()
            await asyncio.sleep(0.001)
    assert [len(b) for b in (cluster.messages("t")[i : i + 3] for i in range(0, 10, 3))] == [3, 3, 3, 1]
    assert accounts.ledger.acked == 10


@pytest.mark.parametrize("mode_name", ["batch", "callback", "sync"])
async def test_only_records_too_large_for_the_topics_batch_limit_fail_and_never_reach_the_broker(mode_name: str) -> None:
    cluster = MemoryCluster(max_batch_bytes=400, batch_capacity=1000)  # refuses any batch over 400 bytes, as a broker would
    accounts = new_accounts()
    records: list[Record] = [(b"k", b"x" * (500 if i % 10 == 3 else 40), i + 1) for i in range(40)]
    async with cluster.sink("t", 1) as sink:
        mode = make_mode(DeliverySettings(mode=mode_name), sink, accounts, InFlight(100), 0.001, 1 << 20)  # type: ignore[arg-type]
        c = read(accounts, chunk(b"r\n" * 40), 40)
        await mode.send({0: records}, c)
        await mode.close()
    led = accounts.ledger
    assert (led.acked, led.failed, dict(led.failed_by_reason)) == (36, 4, {"too_large": 4})
    assert [m.value for m in cluster.messages("t")] == [v for _, v, _ in records if len(v) == 40]  # in order
    assert cluster.refused == 0, "a batch over the topic's limit was sent (with idempotence, its partition would stall)"


async def test_a_batch_keeps_its_records_lines_only_so_their_values_are_freed_while_it_is_in_flight() -> None:
    cluster = MemoryCluster(batch_capacity=2, hold=True)
    accounts = new_accounts()
    async with cluster.sink("t", 1) as sink:
        mode = BatchMode(sink, accounts, InFlight(100), linger=60)
        c = read(accounts, chunk(b"x\n" * 3), 3)
        records: list[Record] = [(None, b"v%d" % i, i + 1) for i in range(3)]
        kept = list(records)
        await mode.send({0: records}, c)
        del records
        assert cluster.sends == 1  # two records in flight, held by the cluster; the third in the open batch
        assert [sys.getrefcount(r) for r in kept] == [3, 3, 3]  # the list, the loop and the call: no batch holds one
        closing = asyncio.create_task(mode.close())
        while not closing.done():
            cluster.settle()
            await asyncio.sleep(0.001)
    assert accounts.ledger.acked == 3 and accounts.completion.positions["in.jsonl"].offset == 6


async def test_framed_batches_ship_after_what_is_open_for_their_partition_and_are_accounted_as_batches() -> None:
    cluster = MemoryCluster(batch_capacity=100)
    accounts = new_accounts()
    async with cluster.sink("t", 2) as sink:
        plain = sink.batch

        def batch(made: Framed | None = None) -> MemoryBatch:  # what a sink's framer made: here, a record a line
            if made is None:
                return plain()
            framed = MemoryBatch(100)
            for line in made[4]:
                framed.append(key=None, value=b"framed %d" % line, timestamp=None)
            return framed

        sink.batch = batch  # type: ignore[method-assign]
        mode = BatchMode(sink, accounts, InFlight(100), linger=60)  # never lingers out during the test
        first = read(accounts, chunk(b"x\n" * 2), 2)
        await mode.send({0: [(None, b"open 1", 1)], 1: [(None, b"open 2", 2)]}, first)
        assert cluster.sends == 0  # both open, lingering
        second = read(accounts, chunk(b"x\n" * 3, seq=1, offset=4, first_line=3), 3)
        await mode.send_framed([(0, bytearray(), 2, 8, [3, 5])], second)
        assert cluster.sends == 2  # partition 0's open batch, then the framed one; partition 1's lingers on
        await mode.send_framed([(1, bytearray(), 1, 4, [4])], second)
        await mode.close()
    by_partition = [[m.value for m in cluster.messages("t") if m.partition == p] for p in (0, 1)]
    assert by_partition == [[b"open 1", b"framed 3", b"framed 5"], [b"open 2", b"framed 4"]]
    assert (accounts.ledger.sent, accounts.ledger.acked, cluster.sends) == (5, 5, 4)
    assert accounts.completion.positions["in.jsonl"].offset == 10
