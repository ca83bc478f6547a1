"""Wait for the connections aiokafka closed without waiting for them.

A connection that fails while it opens (a refused SASL login, say) is closed and dropped inside aiokafka: nothing
awaits its close. Over TLS that close is a round trip (close_notify, then the broker's end), and when the failure
ends the run at once, the process can reach its exit first: uvloop then cannot close the loop ("Device or
resource busy", a traceback after pump's one line) and warns of an unclosed transport. Seen on a loaded machine
after a wrong password over SASL_SSL. aiokafka keeps no list of such connections, so they are found by their
protocol objects, which the loop keeps alive until the transport is closed.
"""

from __future__ import annotations

import asyncio
import gc

from aiokafka.conn import AIOKafkaProtocol


def closing(loop: asyncio.AbstractEventLoop) -> list[asyncio.Future[None]]:
    """The close futures of this loop's aiokafka connections that are closing and not closed yet."""
    found = []
    for obj in gc.get_objects():
        if not isinstance(obj, AIOKafkaProtocol):
            continue
        transport = getattr(obj, "_transport", None)
        done = getattr(obj, "_closed_fut", None)  # aiokafka's own (``internals``): without it, nothing to wait for
        if done is None or transport is None:
            continue
        if transport.is_closing() and not done.done() and done.get_loop() is loop:
            found.append(done)
    return found


SETTLE_SECONDS = 2.0  # bounded: a broker that never ends its side must not hold the exit


async def settle() -> None:
    """Wait (at most ``SETTLE_SECONDS``) until the connections being closed are closed."""
    pending = closing(asyncio.get_running_loop())
    if pending:
        await asyncio.wait(pending, timeout=SETTLE_SECONDS)
