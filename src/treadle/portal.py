"""The one bridge from synchronous code to treadle's async core.

The thread that created the portal (usually the only one using a `Client`) gets an event loop
of its own and runs coroutines on it directly, with no thread hop. Every other thread, and any
caller whose thread already runs an event loop (sync code called from async code, which cannot
nest loops), goes through one loop on a background thread. So a portal holds at most two loops,
however many threads use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Portal:
    """Runs coroutines for synchronous callers and returns their results."""

    def __init__(self, name: str = "treadle-portal") -> None:
        self._name = name
        self._owner = threading.get_ident()
        self._own: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._background: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` to completion and return its result (or raise its exception)."""
        if threading.get_ident() == self._owner and not _loop_running_here():
            if self._own is None or self._own.is_closed():
                self._own = asyncio.new_event_loop()
            return self._own.run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.background_loop()).result()

    def background_loop(self) -> asyncio.AbstractEventLoop:
        """The loop on the portal's background thread (started on first use), for work that outlives a call."""
        with self._lock:
            if self._background is None:
                self._background = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._background.run_forever, name=self._name, daemon=True)
                self._thread.start()
            return self._background

    def close(self) -> None:
        """Stop the background loop and close both loops."""
        with self._lock:
            background, thread, self._background, self._thread = self._background, self._thread, None, None
        if background is not None and thread is not None:
            background.call_soon_threadsafe(background.stop)
            thread.join(timeout=10)
            background.close()
        if self._own is not None and not self._own.is_running():
            self._own.close()
            self._own = None
