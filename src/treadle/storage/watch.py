"""Cross-process change notification for an SQLite file: the "push" that wakes idle workers and waiters.

SQLite has no LISTEN/NOTIFY, so treadle adds one beside the database: after every commit that
changed something, the committing process writes one byte in place to `<database>-notify`.
On Linux each process's watcher thread waits for that write with inotify and wakes its
waiters at once; the write comes after the commit returned, so the change is already visible.
Elsewhere (or when inotify is unavailable) the watcher polls `PRAGMA data_version` every few
milliseconds. Either way a change is only a hint: waiters re-read the store, and while anyone
waits the watcher also re-checks `data_version` every quarter second, which catches writers that
do not signal (the sqlite3 shell) and any lost event.

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


class ChangeWatcher:
    """Counts observed changes to one SQLite database and wakes asyncio waiters on any loop."""

    def __init__(self, path: str) -> None:
        self._path = os.path.abspath(path)
        self._signal_path = self._path + "-notify"
        self._signal_fd: int | None = None
        self._counter = ChangeCounter()
        self._wanted = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._fd_lock = threading.Lock()

    def version(self, kind: str) -> int:
        """The number of changes seen so far (a commit is a change of every kind: the file cannot tell)."""
        return self._counter.version(kind)

    def bump(self) -> None:
        """Record a change seen by this process."""
        self._counter.bump()

    def committed(self) -> None:
        """Called after this process committed a change: wake local waiters and signal the others."""
        self._counter.bump()
        try:
            with self._fd_lock:
                if self._signal_fd is None:
                    self._signal_fd = os.open(self._signal_path, os.O_WRONLY | os.O_CREAT, 0o644)
                os.pwrite(self._signal_fd, b"1", 0)
        except OSError:   # a read-only folder: others fall back to their periodic check
            logger.debug("cannot signal %s", self._signal_path, exc_info=True)

    async def wait(self, since: int, timeout: float, kind: str) -> int:
        """Wait until the version of `kind` passes `since`, or `timeout` seconds."""
        return await self._counter.wait(since, timeout, kind, on_wait=self._want)

    def _want(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="treadle-sqlite-watch", daemon=True)
                self._thread.start()
        self._wanted.set()

    def reopen(self) -> None:
        """Allow the watcher to run again after `close()`."""
        with self._start_lock:
            self._stopped = False
            self._thread = None
            self._wanted.clear()

    def close(self) -> None:
        """Stop the watcher thread and close the signal file."""
        self._stopped = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._fd_lock:
            if self._signal_fd is not None:
                os.close(self._signal_fd)
                self._signal_fd = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        notifier = self._inotify()
        self.bump()   # a change may have slipped in before the watch existed: let waiters look once
        try:
            last = _data_version(conn)
            while not self._stopped:
                if not self._counter.has_waiters:
                    self._wanted.wait()
                    self._wanted.clear()
                    timeout = 0.0            # first look at what happened while nobody waited
                else:
                    timeout = _SAFETY_SECONDS if notifier is not None else _POLL_SECONDS
                if notifier is not None and self._signalled(notifier, timeout):
                    self.bump()
                    last = _data_version(conn)
                    continue
                if notifier is None and timeout:
                    time.sleep(timeout)
                current = _data_version(conn)
                if current != last:
                    last = current
                    self.bump()
        except Exception:
            logger.critical("the SQLite change watcher stopped; waiters fall back to polling",
                            exc_info=True, extra={"event": "watcher_failed"})
        finally:
            conn.close()
            if notifier is not None:
                notifier.close()

    def _signalled(self, notifier: Any, timeout: float) -> bool:
        events = notifier.read(timeout=int(timeout * 1000))
        if any(e.mask & (flags.IGNORED | flags.DELETE_SELF) for e in events):
            self._watch(notifier)        # the signal file was removed: watch its successor
        return any(e.mask & (flags.MODIFY | flags.Q_OVERFLOW) for e in events)

    def _watch(self, notifier: Any) -> None:
        fd = os.open(self._signal_path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        notifier.add_watch(self._signal_path, flags.MODIFY | flags.DELETE_SELF)

    def _inotify(self) -> Any:
        if INotify is None:
            return None
        try:
            notifier = INotify()
            self._watch(notifier)
            return notifier
        except OSError:
            logger.info("inotify unavailable; polling for changes", extra={"event": "watcher_polling"})
            return None


def _data_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA data_version").fetchone()
    return int(row[0])
