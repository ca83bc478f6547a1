"""Stage 3, pacing: the slot between decode and send, where a replay's speed is set.

Today every replay runs as fast as the cluster takes it (``Unpaced``). A pacer sees each
decoded chunk, in input order and in its turn, and yields it on as one or more pieces,
waiting between them as its pace requires: at most N records a second, or the gaps
between the records' event times, sped up. A piece is a ``Decoded`` holding some of the
chunk's records; records keep their line numbers, so a pacer that needs input order
across partitions can rebuild it by merging the partitions' lists on ``line``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pump.decode import Decoded


class Pacer(Protocol):
    def pace(self, decoded: Decoded) -> AsyncIterator[Decoded]: ...


class Unpaced:
    """No pacing: each chunk goes on whole, at once."""

    async def pace(self, decoded: Decoded) -> AsyncIterator[Decoded]:
        yield decoded
