"""Send modes against an in-memory fake producer: no record is ever dropped between shipping and closing."""

from __future__ import annotations

import asyncio

from pump.fakes import FakeCluster
from pump.ledger import Ledger
from pump.modes import BatchMode
from pump.outcomes import Outcomes
from pump.source import Chunk


def chunk(seq: int, n: int) -> Chunk:
    data = b"x\n" * n
    return Chunk("f", "jsonl", None, 1 + seq * n, seq * len(data), data, len(data), lines=n, seq=seq)


async def test_closing_while_the_flusher_waits_for_in_flight_room_loses_no_batch() -> None:
    cluster = FakeCluster(partitions=2)
    outcomes = Outcomes(Ledger())
    mode = BatchMode(cluster, outcomes, max_in_flight=1, linger=0.001)  # type: ignore[arg-type]
    for seq, part in ((0, 0), (1, 1)):
        c = chunk(seq, 1)
        outcomes.completion.read(c)
        outcomes.completion.decoded(seq, 1)
        await mode.send({part: [(b"k", b"v%d" % seq, 1)]}, c)
    await asyncio.sleep(0.05)  # the flusher shipped partition 0 and now waits for room for partition 1
    assert len(cluster.sent) == 1 and mode.inflight.used == 1
    closing = asyncio.create_task(mode.close())
    await asyncio.sleep(0.01)
    cluster.ack_all()  # room again: the waiting batch must still be shipped, not dropped
    await asyncio.sleep(0.01)
    cluster.ack_all()
    await asyncio.wait_for(closing, 2)
    assert (outcomes.ledger.sent, outcomes.ledger.acked) == (2, 2)
    assert outcomes.completion.positions["f"].offset == 4


async def test_callback_mode_settles_each_record_and_a_failed_one_holds_the_checkpoint() -> None:
    from aiokafka.errors import KafkaTimeoutError

    from pump.modes import CallbackMode

    cluster = FakeCluster()
    outcomes = Outcomes(Ledger())
    mode = CallbackMode(cluster, outcomes, max_in_flight=10)  # type: ignore[arg-type]
    c = chunk(0, 3)
    outcomes.completion.read(c)
    outcomes.completion.decoded(0, 3)
    await mode.send({0: [(b"k", b"a", 1), (b"k", b"b", 2), (b"k", b"c", 3)]}, c)
    assert mode.inflight.used == 3
    cluster.sent[1][2].set_exception(KafkaTimeoutError())
    cluster.ack_all()
    await mode.close()
    led = outcomes.ledger
    assert (led.sent, led.acked, led.failed, dict(led.failed_by_reason)) == (3, 2, 1, {"timeout": 1})
    assert "f" not in outcomes.completion.positions  # the failed record was not dead-lettered: not handled
