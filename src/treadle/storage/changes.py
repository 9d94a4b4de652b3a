"""Change counters that asyncio code on any loop can wait on, bumped from any thread.

Changes come in kinds, so that a waiter wakes for what it waits for: a worker for new work,
a client waiting for a result for finished tasks, a client waiting for an orchestration for
instances that changed. A store may bump more kinds than happened (a hint is never wrong to
give), never fewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

WORK = "w"          # claimable work may have appeared (new, retried, released or recovered tasks)
TASKS = "t"         # a task changed state (finished, cancelled, re-driven)
INSTANCES = "i"     # an orchestration instance changed status or custom status, or went away
ALL = WORK + TASKS + INSTANCES


class ChangeCounter:
    """Counts changes per kind; `wait(since, kind)` returns once that kind's count passes `since`."""

    def __init__(self) -> None:
        self._versions = dict.fromkeys(ALL, 0)
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], int, str]] = []

    def version(self, kind: str) -> int:
        """The number of changes of `kind` seen so far."""
        return self._versions[kind]

    @property
    def has_waiters(self) -> bool:
        """Whether anyone is waiting (watchers may sleep otherwise)."""
        return bool(self._waiters)

    def bump(self, kinds: str = ALL) -> None:
        """Record a change of each of `kinds` and wake the waiters it concerns.

        A waiter on the bumping thread's own loop is woken at once, not one loop turn later: a
        commit's hint then goes out before the other requests that arrived meanwhile.
        """
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        with self._lock:
            for kind in set(kinds) & self._versions.keys():
                self._versions[kind] += 1
            for loop, fut, since, kind in self._waiters:
                if self._versions[kind] > since:
                    if loop is here:
                        _resolve(fut)
                        continue
                    with contextlib.suppress(RuntimeError):  # the waiter's loop already closed
                        loop.call_soon_threadsafe(_resolve, fut)

    async def wait(self, since: int, timeout: float, kind: str, on_wait: object = None) -> int:
        """Wait until the count of `kind` passes `since`, or `timeout` seconds; return that count."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._versions[kind] > since:
                return self._versions[kind]
            self._waiters.append((loop, fut, since, kind))
        if callable(on_wait):
            on_wait()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, timeout)
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not fut]
        return self._versions[kind]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
