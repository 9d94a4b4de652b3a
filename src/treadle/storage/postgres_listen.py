"""LISTEN on a dedicated connection in a background thread: the push that wakes idle workers and waiters.

Notifications are hints. Each kind of change has its own channel, and a process listens only to
the kinds it waits for: a worker is not woken by the results it reports, nor a client by the
tasks it submits (on two cores, those needless wake-ups cost a round trip a quarter of its time).
The thread reconnects with backoff when the server goes away and counts a reconnection, or a
newly heard channel, as a change (anything may have happened meanwhile), so waiters re-read.
It runs in its own thread with a blocking connection, so it keeps listening whichever event
loop (or none) the storage's callers happen to be running.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import select
import threading
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from .changes import ALL, ChangeCounter

logger = logging.getLogger(__name__)

_MAX_IDENTIFIER = 63        # PostgreSQL's NAMEDATALEN - 1: a longer channel name is refused


def channel_name(schema: str, kind: str) -> str:
    """The channel on which changes of `kind` in `schema` are announced."""
    name = f"treadle_{schema}_{kind}"
    if len(name) > _MAX_IDENTIFIER:
        name = f"treadle_{hashlib.sha256(schema.encode()).hexdigest()[:32]}_{kind}"
    return name


class PgListener:
    """Bumps a `ChangeCounter` for every notification on the channels of the kinds asked for."""

    def __init__(self, conninfo: str, channels: Mapping[str, str], counter: ChangeCounter,
                 connect_kwargs: dict[str, Any], origin: str = "") -> None:
        self._conninfo = conninfo
        self._channels = channels     # kind -> channel (`channel_name`)
        self._counter = counter
        self._kwargs = connect_kwargs
        self._origin = origin         # payloads name the storage that notified; our own are skipped
        self._wanted: set[str] = set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()         # guards the above and the wake pipe's write end
        self._wake_w: int | None = None       # a byte written here wakes the thread to LISTEN to more

    def want(self, kind: str) -> None:
        """Listen to `kind` from now on (starting the thread once)."""
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_w, False)
                self._thread = threading.Thread(target=self._run, args=(self._stopped, wake_r, self._wake_w),
                                                name="treadle-pg-listen", daemon=True)
                self._thread.start()
            if kind not in self._wanted:
                self._wanted.add(kind)
                self._wake()

    def close(self) -> None:
        """Stop listening (a later `want` starts again)."""
        with self._lock:
            thread, stopped = self._thread, self._stopped
            self._thread, self._stopped = None, threading.Event()
            stopped.set()
            self._wake()
            self._wake_w = None
        if thread is not None:
            thread.join(timeout=5)

    def _wake(self) -> None:
        """Called with the lock held, so the thread cannot close the pipe meanwhile."""
        if self._wake_w is not None:
            with contextlib.suppress(BlockingIOError):  # a full pipe: the thread has wake-ups enough to read
                os.write(self._wake_w, b"x")

    def _run(self, stopped: threading.Event, wake_r: int, wake_w: int) -> None:
        pause = 0.1
        try:
            while not stopped.is_set():
                try:
                    self._listen(stopped, wake_r)
                    pause = 0.1
                except psycopg.Error as exc:
                    logger.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, pause,
                                   extra={"event": "listen_reconnect"})
                    stopped.wait(pause)
                    pause = min(pause * 2, 5.0)
        finally:
            with self._lock:
                os.close(wake_r)
                os.close(wake_w)

    def _listen(self, stopped: threading.Event, wake_r: int) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, **self._kwargs) as conn:
            kinds = {channel: kind for kind, channel in self._channels.items()}
            heard: set[str] = set()
            while not stopped.is_set():
                with self._lock:
                    new = self._wanted - heard
                for kind in sorted(new):
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channels[kind])))
                if new:
                    heard |= new
                    self._counter.bump("".join(new))     # whatever happened before we listened
                ready, _, _ = select.select([conn.pgconn.socket, wake_r], [], [], 0.5)
                if wake_r in ready:
                    os.read(wake_r, 4096)
                for notification in conn.notifies(timeout=0):
                    if notification.payload != self._origin or not self._origin:
                        self._counter.bump(kinds.get(notification.channel, ALL))
