"""Bounded waits at the aiokafka boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float) -> T:
    """``asyncio.wait_for`` that never waits past ``seconds``. On Python 3.11 ``wait_for`` cancels the late task and
    then waits for it to end, however long that takes, and aiokafka's ``client.close()`` swallows a cancellation
    (``suppress(CancelledError)`` around its metadata task): so a stop could outlive any timeout. Here the late
    task is cancelled and left to end on its own; ``TimeoutError`` is raised at once."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_retrieve)
        raise TimeoutError
    return task.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a left task's outcome as seen (an unretrieved exception is a warning, an error under -W error)."""
    if not task.cancelled():
        task.exception()
