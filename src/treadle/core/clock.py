"""Time as a parameter: storage and workers read it from a `Clock`, tests use `FrozenClock`."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time in seconds since the Unix epoch."""

    def now(self) -> float:
        """The current time."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> float:
        """The current time from `time.time()`."""
        return time.time()


class FrozenClock:
    """A clock that moves only when told to, so lease expiry and backoff can be tested without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        """The frozen time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new time."""
        self._now += seconds
        return self._now
