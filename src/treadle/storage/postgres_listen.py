"""LISTEN on a dedicated connection in a background thread: the push that wakes idle workers and waiters.

Notifications are hints. The thread reconnects with backoff when the server goes away and
counts a reconnection as a change (anything may have happened meanwhile), so waiters re-read.
It runs in its own thread with a blocking connection, so it keeps listening whichever event
loop (or none) the storage's callers happen to be running.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from psycopg import sql

from .changes import ALL, ChangeCounter

logger = logging.getLogger(__name__)


class PgListener:
    """Bumps a `ChangeCounter` for every notification on `channel`."""

    def __init__(self, conninfo: str, channel: str, counter: ChangeCounter, connect_kwargs: dict[str, Any],
                 origin: str = "") -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._counter = counter
        self._kwargs = connect_kwargs
        self._origin = origin         # payloads are "origin:kinds"; our own storage's are skipped
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.listening = threading.Event()

    def ensure_started(self) -> None:
        """Start the thread once."""
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="treadle-pg-listen", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop listening (a later `ensure_started` starts again)."""
        with self._lock:
            thread, stopped = self._thread, self._stopped
            self._thread, self._stopped = None, threading.Event()
        stopped.set()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        stopped = self._stopped
        pause = 0.1
        while not stopped.is_set():
            try:
                self._listen(stopped)
                pause = 0.1
            except psycopg.Error as exc:
                self.listening.clear()
                logger.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, pause,
                               extra={"event": "listen_reconnect"})
                stopped.wait(pause)
                pause = min(pause * 2, 5.0)

    def _listen(self, stopped: threading.Event) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, **self._kwargs) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.listening.set()
            self._counter.bump()            # whatever happened while we were not listening
            while not stopped.is_set():
                for notification in conn.notifies(timeout=0.5):
                    origin, _, kinds = notification.payload.partition(":")
                    if origin != self._origin or not self._origin:
                        self._counter.bump(kinds or ALL)
                    if stopped.is_set():
                        break
