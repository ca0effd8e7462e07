"""Wait for a condition instead of sleeping a fixed time.

A fixed sleep either waits too long (slow tests) or too short (flaky tests on a busy machine);
these poll the condition itself and return as soon as it holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll a condition until it holds or the timeout passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float, interval: float = 0.05
) -> bool:
    """Like `wait_until`, on the event loop (the bot under test runs beside it): never blocks it.

    The predicate may be a plain function or a coroutine function.
    """

    async def holds() -> bool:
        result = predicate()
        return bool(await result) if isinstance(result, Awaitable) else bool(result)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await holds():
            return True
        await asyncio.sleep(interval)
    return await holds()
