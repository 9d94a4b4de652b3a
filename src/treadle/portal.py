"""The one bridge from synchronous code to treadle's async core.

Each calling thread gets a private event loop and runs coroutines on it directly, with no thread
hop. A caller whose thread already runs an event loop (sync code called from async code) cannot
nest loops, so its calls go to a loop on a background thread instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    """Runs coroutines for synchronous callers and returns their results."""

    def __init__(self, name: str = "treadle-portal") -> None:
        self._name = name
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._background: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` to completion and return its result (or raise its exception)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._own_loop().run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._background_loop()).result()

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
            with self._lock:
                self._loops.append(loop)
        return loop

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._background is None:
                self._background = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._background.run_forever, name=self._name, daemon=True)
                self._thread.start()
            return self._background

    def close(self) -> None:
        """Close every loop this portal created."""
        if self._background is not None and self._thread is not None:
            self._background.call_soon_threadsafe(self._background.stop)
            self._thread.join(timeout=10)
            self._background.close()
            self._background = None
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if not loop.is_running():
                loop.close()
