"""Ctrl-C for a worker running in the background: stop it gracefully first, then let the program have the signal.

DistWorker's quick start runs the worker in the background and loops until interrupted.
Left alone, SIGINT would cancel every task of the event loop at once, in-flight handlers and
the connection included. While a worker runs, the relay catches SIGINT and SIGTERM and asks
it to stop as treadle's own worker does on a signal (running tasks finish within the grace
period, the rest go back to the queue; a second signal hurries). Once it has stopped, the
relay puts the previous handlers back and raises the signal again, so the program reacts
as it would have: under `asyncio.run`, SIGINT still ends in `KeyboardInterrupt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalRelay:
    """Holds SIGINT and SIGTERM while one worker runs in the main thread's event loop."""

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self.caught: signal.Signals | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Catch the signals (only possible in the main thread, and only for handlers Python can put back)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop, self.caught = loop, None
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if previous is None:          # set outside Python: it could not be restored
                continue
            try:
                loop.add_signal_handler(sig, self._caught, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue                  # no signal support on this loop or platform
            self._previous[sig] = previous

    def _caught(self, sig: signal.Signals) -> None:
        self.caught = self.caught or sig
        self._on_signal()

    def release(self, *, pass_on: bool = True) -> None:
        """Put the previous handlers back; with `pass_on`, raise the caught signal again for them."""
        loop, self._loop = self._loop, None
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
        caught, self.caught = self.caught, None
        if pass_on and caught is not None and caught in previous:
            signal.raise_signal(caught)
