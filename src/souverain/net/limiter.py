"""A FIFO concurrency limiter whose uncontended path does no allocation.

``asyncio.Semaphore`` of CPython 3.11 scans all its waiters on every ``acquire`` (``locked()``), which is
quadratic when thousands of DNS questions or HTTP requests queue behind one cap. This limiter keeps the
same contract (at most ``limit`` holders, first come first served, cancellation-safe) with O(1) steps: a
released slot is handed directly to the oldest live waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType

__all__ = ["Limiter"]


class Limiter:
    """At most ``limit`` concurrent holders; ``async with limiter:`` holds one slot."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, limit: int) -> None:
        self._free = max(1, limit)
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._free == 0

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiters:  # invariant: free slots only when nobody waits
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot goes straight to the oldest waiter
                return
        self._free += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
