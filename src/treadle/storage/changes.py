"""A change counter that asyncio code on any loop can wait on, bumped from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class ChangeCounter:
    """Counts changes; `wait(since)` returns once the count passes `since` (or on timeout)."""

    def __init__(self) -> None:
        self._version = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], int]] = []

    @property
    def version(self) -> int:
        """The number of changes seen so far."""
        return self._version

    @property
    def has_waiters(self) -> bool:
        """Whether anyone is waiting (watchers may sleep otherwise)."""
        return bool(self._waiters)

    def bump(self) -> None:
        """Record a change and wake the waiters it concerns."""
        with self._lock:
            self._version += 1
            for loop, fut, since in self._waiters:
                if self._version > since:
                    with contextlib.suppress(RuntimeError):  # the waiter's loop already closed
                        loop.call_soon_threadsafe(_resolve, fut)

    async def wait(self, since: int, timeout: float, on_wait: object = None) -> int:
        """Wait until the version passes `since`, or `timeout` seconds; return the version."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._version > since:
                return self._version
            self._waiters.append((loop, fut, since))
        if callable(on_wait):
            on_wait()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, timeout)
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not fut]
        return self._version


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
