"""One way to wait for something that happens eventually (a projection, a timer on a real server, a port).

Polls `probe` until it returns a value that is not None or False, and returns that value; after `seconds`
it fails with `what`, and the last value seen, so a timeout says where things stood.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float = 20, every: float = 0.1) -> T:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(every)


def eventually_sync(probe: Callable[[], T | None], what: str, seconds: float = 20, every: float = 0.1) -> T:
    """The same for code that is not async (a subprocess, a socket)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(every)
