"""``pump verify``: does the topic hold the inputs' records exactly once, each on its key's partition, in input order?

The inputs are replayed as ``pump replay`` would (``expected``), sending nothing, and the topic is read back as a
``read_committed`` consumer sees it (``pump.output.kafka.reader``). A first pass folds both sides into per-partition
digests (constant memory, whatever the size). Where they agree, the partition is exact. Where they do not, the
inputs and those partitions are read again, a share of the keys at a time (``DETAIL_RECORDS`` records at most held),
and compared record by record, which names what is missing, twice, unexpected, on the wrong partition or out of order,
with the input line of each.

What the replay itself would not send (invalid lines, records too large) is not expected. ``--shard`` and
``--processes`` are ignored: verify checks the whole job. The read starts at each partition's start, or at
``--from-timestamp`` / ``--from-offsets`` (a topic that held records before the replay), and ends at each
partition's end as of verify's start.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import msgspec

from pump.config import EMBEDDED, ReplayConfig, config_error
from pump.errors import PumpError
from pump.output.kafka.admin import batch_limit
from pump.output.kafka.reader import Found, Start, TopicReader
from pump.verify.compare import Findings, compare
from pump.verify.digest import Detail, Digests, differing
from pump.verify.expected import expect
from pump.verify.report import KINDS, VerifyReport

#: Records (expected and found) a detailed pass holds at most: more make more passes, each over a share of the keys.
DETAIL_RECORDS = 1_000_000

__all__ = ("Read", "Start", "VerifyReport", "check", "verify")


#: Reads the topic's records, a batch at a time; each call reads the same records again.
Read = Callable[[], AsyncIterator[list[Found]]]


async def verify(config: ReplayConfig, start: Start | None = None) -> VerifyReport:
    """Checks ``config.topic`` against ``config``'s inputs (as ``pump replay`` with ``config`` would send them)."""
    bootstrap = config.producer.bootstrap_servers
    if bootstrap == EMBEDDED:
        raise config_error("{bootstrap_servers} embedded starts an empty broker of its own: give verify the cluster the"
                           " replay wrote to")  # fmt: skip
    if config.input.live:
        raise config_error("verify compares a topic with inputs read to their ends: drop {follow} and {watch} (the files"
                           " as they are now are what is checked)")  # fmt: skip
    began = time.monotonic()
    async with TopicReader(config, bootstrap, config.topic, start) as first:
        partitions, begins = first.partitions, first.begins
    ends: dict[int, int] = {}  # where the first pass found each partition to end: every later pass reads as far

    async def read() -> AsyncIterator[list[Found]]:
        async with TopicReader(config, bootstrap, config.topic, Start(offsets=begins), ends or None) as reader:
            async for records in reader.read():
                yield records
            ends.update(reader.ends)

    limit = await batch_limit(config, bootstrap, config.topic)
    report = await check(config, partitions, limit, read)
    return msgspec.structs.replace(report, read_from=_read_from(start, begins, ends), seconds=time.monotonic() - began)


async def check(config: ReplayConfig, partitions: int, limit: int | None, read: Read) -> VerifyReport:
    """``verify`` of the records ``read`` gives, for a topic of ``partitions`` accepting batches up to ``limit``."""
    expected, found = Digests(partitions), Digests(partitions)
    report = await expect(config, expected, partitions, limit)
    if report.error:
        raise PumpError(f"the inputs could not be read to the end: {report.error}")
    async for records in read():
        found.found(records)
    content, order, keyless = differing(expected, found)
    findings, passes = Findings(), 1
    if content or order or keyless:
        chosen = sorted({*content, *order})
        held = sum(expected.counts[p] + found.counts[p] for p in chosen)
        held += expected.keyless[0] + found.keyless[0] if keyless else 0
        buckets = max(1, -(-held // DETAIL_RECORDS))
        for bucket in range(buckets):
            want, got = Detail(chosen, keyless, buckets, bucket), Detail(chosen, keyless, buckets, bucket)
            await expect(config, want, partitions, limit)
            async for records in read():
                got.found(records)
            compare(want, got, findings)
        passes += buckets
    return VerifyReport(
        topic=config.topic, partitions=partitions, read_from="", files=report.files, lines=report.lines,
        expected=expected.total(), invalid=report.invalid, not_sent=report.failed, found=found.total(),
        examples=findings.examples, passes=passes,
        **{kind: getattr(findings, kind) for kind in KINDS},
    )  # fmt: skip


def _read_from(start: Start | None, begins: dict[int, int], ends: dict[int, int]) -> str:
    if start is None or (start.timestamp is None and not start.offsets):
        return "every partition from its start to its end"
    how = f"from timestamp {start.timestamp}" if start.timestamp is not None else "from the offsets given"
    spans = ", ".join(f"{p}: {begins[p]}..{ends[p]}" for p in sorted(ends))
    return f"{how} (offsets {spans})"
