"""Cross-process change notification for an SQLite file: the "push" that wakes idle workers and waiters.

SQLite has no LISTEN/NOTIFY. On Linux, inotify reports writes to the database's `-wal` file the
moment another process commits; the watcher then confirms the commit is visible with
`PRAGMA data_version` (the write event arrives before the commit's fsync completes) and wakes
every waiter. Elsewhere it polls `data_version` every few milliseconds. Either way a change
is only a hint: waiters re-read the store, and they time out into a poll if a hint is lost.

The watcher thread sleeps when nobody waits, so busy processes pay nothing for it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Any

from .changes import ChangeCounter

logger = logging.getLogger(__name__)

try:  # inotify is Linux-only; the dependency is installed only there
    from inotify_simple import INotify, flags
except ImportError:  # pragma: no cover - exercised on other platforms only
    INotify = None
    flags = None

_POLL_SECONDS = 0.003          # without inotify
_SAFETY_SECONDS = 0.25         # with inotify: re-check even if no event came
_CONFIRM_SECONDS = 0.2         # how long a write event is confirmed against data_version


class ChangeWatcher:
    """Counts observed changes to one SQLite database and wakes asyncio waiters on any loop."""

    def __init__(self, path: str) -> None:
        self._path = os.path.abspath(path)
        self._base = os.path.basename(self._path)
        self._counter = ChangeCounter()
        self._wanted = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def version(self) -> int:
        """The number of changes seen so far."""
        return self._counter.version

    def bump(self) -> None:
        """Record a change made by this process (no need to wait for the file event)."""
        self._counter.bump()

    async def wait(self, since: int, timeout: float) -> int:
        """Wait until the version passes `since`, or `timeout` seconds."""
        return await self._counter.wait(since, timeout, on_wait=self._want)

    def _want(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="treadle-sqlite-watch", daemon=True)
                self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Stop the watcher thread."""
        self._stopped = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        notifier = self._inotify()
        try:
            last = _data_version(conn)
            while not self._stopped:
                if not self._counter.has_waiters:
                    self._wanted.wait()
                    self._wanted.clear()
                    last = self._check(conn, last, confirm=False)
                    continue
                if notifier is None:
                    time.sleep(_POLL_SECONDS)
                    last = self._check(conn, last, confirm=False)
                else:
                    events = notifier.read(timeout=int(_SAFETY_SECONDS * 1000))
                    ours = any(e.name.startswith(self._base) for e in events)
                    last = self._check(conn, last, confirm=ours)
        except Exception:
            logger.critical("the SQLite change watcher stopped; waiters fall back to polling",
                            exc_info=True, extra={"event": "watcher_failed"})
        finally:
            conn.close()
            if notifier is not None:
                notifier.close()

    def _inotify(self) -> Any:
        if INotify is None:
            return None
        try:
            notifier = INotify()
            notifier.add_watch(os.path.dirname(self._path) or ".", flags.MODIFY | flags.CREATE)
            return notifier
        except OSError:
            logger.info("inotify unavailable; polling for changes", extra={"event": "watcher_polling"})
            return None

    def _check(self, conn: sqlite3.Connection, last: int, *, confirm: bool) -> int:
        start = time.monotonic()
        deadline = start + (_CONFIRM_SECONDS if confirm else 0.0)
        while True:
            current = _data_version(conn)
            if current != last:
                self.bump()
                return current
            now = time.monotonic()
            if now >= deadline:
                return last
            # a commit becomes visible one fsync after its write event: look often at first
            time.sleep(0.0001 if now - start < 0.005 else 0.002)


def _data_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA data_version").fetchone()
    return int(row[0])
