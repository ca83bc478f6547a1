"""The run itself: sources -> bounded queue -> workers (decode) -> sequencer -> pacer -> send mode.

The reader task puts chunks on a bounded queue (``put`` waits while it is full: the
backpressure on input). Worker coroutines decode chunks concurrently; a ``Sequencer``
hands decoded chunks on strictly in input order, so per-key order holds with any
number of workers. The send mode bounds records in flight; the accounts see everything.

Input ends at the end of the last source, or at a source's failure (say a truncated
gzip): everything read before it is still delivered, then the failure is reported. A
halt (the first SIGINT/SIGTERM, too many invalid lines, a dead-letter target that can
no longer be written) stops taking chunks at once; what was already sent is finished,
and so is the chunk being sent (a chunk is counted when its turn comes: a halt never
cuts one in two, which would leave its rest with no outcome and hold its checkpoint back).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

from pump.account import Accounts
from pump.config import ReplayConfig
from pump.decode import Decoded, DecodeStage
from pump.decode.eventtime import Stamper
from pump.errors import PumpError
from pump.input import Position, Source
from pump.input.follow import FileEvent
from pump.input.live import LiveInput
from pump.input.source import START, Read
from pump.observe import Ending
from pump.output import SendMode
from pump.output.transactions import Transactions
from pump.pace import Pacer, RateLimit

_DONE = None


async def _at_end(chunks: AsyncIterator[Read]) -> bool:
    """Whether a source has no chunk left (a --limit that ends exactly at a file's end leaves it done)."""
    async for _ in chunks:
        return False
    return True


class Sequencer:
    """Lets workers that decode chunks concurrently hand them on strictly in chunk order."""

    def __init__(self) -> None:
        self._next = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}

    async def turn(self, seq: int) -> None:
        if seq == self._next:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[seq] = fut
        try:
            await fut
        finally:
            self._waiters.pop(seq, None)

    def done(self, seq: int) -> None:
        self._next = seq + 1
        fut = self._waiters.get(self._next)
        if fut is not None and not fut.done():
            fut.set_result(None)


@dataclass
class Stages:
    """The parts a run flows through, built by ``pump.runner``."""

    sources: Sequence[Source]
    resume: dict[str, Position]
    queue: asyncio.Queue[Read | None]
    decode: DecodeStage
    pacer: Pacer
    mode: SendMode
    accounts: Accounts
    workers: int
    rate: RateLimit | None = None  # --rate: the reader hands chunks on in paced pieces
    piece: int | None = None  # the reader hands chunks on in pieces of at most this many records (--rate, --speed)
    stamper: Stamper | None = None  # --record-timestamp event|shifted: records' timestamps from their event times
    transactions: Transactions | None = None  # --exactly-once: chunks committed in transactions with their positions
    live: LiveInput | None = None  # --follow, --watch: inputs read as they grow and appear, instead of ``sources``


class Engine:
    def __init__(self, config: ReplayConfig, stages: Stages) -> None:
        self.config = config
        self.stages = stages
        self.queue = stages.queue
        self.accounts = stages.accounts
        self.sequencer = Sequencer()
        self._error: PumpError | None = None
        self._aborted: str | None = None
        self._interrupted: int | None = None
        self._halted = asyncio.Event()
        self._stopping = False
        self._sending: asyncio.Future[None] | None = None  # the chunk whose turn it is, being sent
        # --exactly-once with live inputs: a transaction is also committed when due between chunks (``_commit_when_due``),
        # so each chunk is sent holding this lock; decided once here, no lock where nothing else commits
        self._turn = asyncio.Lock() if stages.transactions is not None and stages.live is not None else None
        self._seq = 0  # the next chunk's place in input order
        self._left = config.input.limit  # --limit: records still to read

    def interrupt(self, signum: int) -> None:
        """The first SIGINT/SIGTERM: stop reading, finish what is in flight, then report and checkpoint."""
        self._interrupted = signum
        self._halted.set()

    def _abort(self, why: str) -> None:
        self._aborted = self._aborted or why
        self._halted.set()

    async def run(self) -> Ending:
        if self.stages.transactions is not None:
            await self.stages.transactions.begin()
        reader = asyncio.create_task(self._read(), name="pump-reader")
        committer = None
        if self._turn is not None:
            assert self.stages.transactions is not None
            committer = asyncio.create_task(self._commit_when_due(self.stages.transactions, self._turn),
                                            name="pump-commit-when-due")  # fmt: skip
        work = asyncio.create_task(self._workers(), name="pump-workers")
        halted = asyncio.create_task(self._halted.wait(), name="pump-halted")
        broken = asyncio.create_task(self.accounts.broken(), name="pump-accounts-broken")
        try:
            await asyncio.wait({work, halted, broken, *([committer] if committer else [])}, return_when=asyncio.FIRST_COMPLETED)
            if committer is not None and committer.done():  # a commit failed: as a failure in sending would
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                committer.result()
            if work.done() and work.exception() is not None:
                await self.stages.mode.abandon()  # nothing more is shipped by a run that failed
            if work.done():
                work.result()  # re-raises what stopped the workers
            else:  # halted, or accounting broke: take no more chunks; what was sent is finished below
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        finally:
            halted.cancel()
            broken.cancel()
            if committer is not None:
                committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committer
            await self._stop_reader(reader)
        await self._close()
        return Ending(self._error or self.accounts.error, self._aborted, self._interrupted)

    async def _close(self) -> None:
        limit = self.config.delivery.shutdown_timeout
        if self._interrupted is None:
            await self._finish_sending()
        else:
            try:
                await asyncio.wait_for(self._finish_sending(), limit)
            except TimeoutError:
                self._abort(f"in-flight records still unsettled after the shutdown timeout ({limit:g} s)")
        await self.accounts.drain()
        if self.stages.transactions is not None:  # what was handled is committed, whatever stopped the run
            await self.stages.transactions.finish(settled=self.accounts.ledger.in_flight == 0)

    async def _finish_sending(self) -> None:
        if self._sending is not None:
            await self._sending  # the chunk whose turn it was when input stopped goes whole
        await self.stages.mode.close()

    async def _workers(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(self.stages.workers):
                    tg.create_task(self._work(), name=f"pump-worker-{i}")
        except* PumpError as group:  # a worker met a user mistake (e.g. a CSV header the schema does not fit)
            raise group.exceptions[0] from None

    async def _stop_reader(self, reader: asyncio.Task[None]) -> None:
        """Stop input without cancelling the reader mid file-operation (that would leak its file).

        The reader checks ``_stopping`` around every ``put``; emptying the queue once
        frees a ``put`` it may be blocked in, after which it closes its file and returns.
        """
        self._stopping = True
        while not self.queue.empty():
            self.queue.get_nowait()
        await reader

    async def _read(self) -> None:
        try:
            if self.stages.live is not None:
                await self._read_live(self.stages.live)
                return
            for source in self.stages.sources:
                self.accounts.file_opened()
                start = self.stages.resume.get(source.name, START)
                if start.done:
                    continue
                # aclosing: a stopped reader still closes its file, not the garbage collector
                async with contextlib.aclosing(source.chunks(start, self.config.input.chunk_bytes)) as chunks:
                    async for whole in chunks:
                        rest = await self._take(whole)
                        if rest is False:
                            return
                        if self._left == 0:
                            if rest is None and await _at_end(chunks):
                                self.accounts.file_done(source.name)
                            return
                self.accounts.file_done(source.name)
        except PumpError as exc:
            self._error = exc
        finally:
            for _ in range(self.stages.workers):
                if self._stopping:
                    break
                await self.queue.put(_DONE)

    async def _read_live(self, live: LiveInput) -> None:
        """Files followed and watched (``--follow``, ``--watch``): records, and files begun and ended, as they come."""
        async with contextlib.aclosing(live.items()) as items:
            async for item in items:
                if isinstance(item, FileEvent):
                    if item.kind == "start":
                        self.accounts.file_opened(item.path, item.start)
                    else:
                        self.accounts.file_done(item.path, item.file)
                    continue
                if await self._take(item) is False or self._left == 0:
                    return

    async def _take(self, whole: Read) -> Read | bool | None:
        """A chunk as read: cut to ``--limit``, in paced pieces, onto the queue. What is left of it past ``--limit``
        (None: nothing), or False if input stopped meanwhile."""
        if self._stopping:
            return False
        rest = None
        if self._left is not None:
            whole, rest, found = whole.split(self._left)
            self._left -= found
        for chunk in self._paced_pieces(whole):
            if self.stages.rate is not None:
                self.accounts.paced(await self.stages.rate.wait(chunk.lines, self._halted))
            if self._stopping or self._halted.is_set():
                return False
            chunk.seq = self._seq
            self._seq += 1
            self.accounts.read(chunk)
            await self._put(chunk)
            if self._stopping:
                return False
        return rest

    def _paced_pieces(self, chunk: Read) -> Iterator[Read]:
        """The chunk whole, or in pieces of at most ``Stages.piece`` records (``--rate``: about
        ``RateLimit.PIECE_SECONDS`` worth; ``--speed``: ``EventPace.PIECE_RECORDS``)."""
        size = self.stages.piece
        if size is None:
            yield chunk
            return
        rest: Read | None = chunk
        while rest is not None:
            piece, rest, _ = rest.split(size)
            yield piece

    async def _put(self, chunk: Read) -> None:
        if not self.queue.full():
            self.queue.put_nowait(chunk)
            return
        waited = time.perf_counter()
        await self.queue.put(chunk)
        self.accounts.blocked("queue", time.perf_counter() - waited)

    async def _work(self) -> None:
        while not self._halted.is_set() and (chunk := await self.queue.get()) is not _DONE:
            await self._handle(chunk)

    async def _handle(self, chunk: Read) -> None:
        """One chunk through decode, its turn, pacing and the send mode. A method of its own, so that what the
        chunk holds is released when it is done (not kept by a worker waiting for the next: 4 chunks, ~15 MB)."""
        accounts = self.accounts
        decoded = await self.stages.decode.decode(chunk)
        await accounts.room_for(decoded)  # dead-letter backpressure, before the turn: others go on meanwhile
        await self.sequencer.turn(chunk.seq)
        try:
            sending = self._send(decoded) if self._turn is None else self._in_turn(decoded, self._turn)
            self._sending = asyncio.ensure_future(sending)
            await asyncio.shield(self._sending)  # a halt cancels this worker, not the sending: _close awaits it
        finally:
            self.sequencer.done(chunk.seq)

    async def _in_turn(self, decoded: Decoded, turn: asyncio.Lock) -> None:
        async with turn:  # a commit when due (``_commit_when_due``) never comes in the middle of a chunk
            await self._send(decoded)

    async def _commit_when_due(self, transactions: Transactions, turn: asyncio.Lock) -> None:
        """``--exactly-once`` with live inputs: what was sent is committed when its time is up, not when the next chunk
        comes (which may be much later)."""
        while True:
            await asyncio.sleep(min(transactions.interval / 4, 0.25))
            async with turn:
                await transactions.when_due()

    async def _send(self, decoded: Decoded) -> None:
        accounts = self.accounts
        accounts.decoded(decoded)
        if decoded.count:  # valid lines already read are delivered even when the run then stops
            stamper = self.stages.stamper
            stamps = stamper.stamps(decoded.times) if stamper is not None else None
            async for piece in self.stages.pacer.pace(decoded, self._halted):
                if piece.framed is not None:  # only unpaced, unstamped, in the batch mode (``runner``)
                    await self.stages.mode.send_framed(piece.framed, decoded.chunk)
                else:
                    await self.stages.mode.send(piece.batches, decoded.chunk, stamps)
        if self.stages.transactions is not None:
            await self.stages.transactions.after(decoded.chunk.lines)
        max_errors = self.config.input.max_errors
        if max_errors is not None and accounts.ledger.invalid > max_errors:
            self._abort(f"stopped after more than {max_errors} invalid lines (the max-errors limit)")
