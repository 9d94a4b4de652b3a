"""Running SQLite operations from asyncio without a thread hop, and committing concurrent writes together.

Each thread (in practice: each event loop) gets its own connection. Reads run inline; in WAL
mode they never wait for writers. Writes are queued and run at the end of the current loop
iteration, all of them in one `BEGIN IMMEDIATE` transaction with a savepoint per operation,
so one failing operation does not undo the others (group commit: many submissions,
completions and heartbeats share one fsync). A caller's await returns only after that commit,
so an acknowledged write is durable (WAL with `synchronous=FULL`).

The connection's busy timeout is zero: when another process holds the write lock the
transaction is retried after an asyncio sleep instead of blocking the event loop, until the
configured busy timeout runs out.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import StorageError, TreadleError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _wrap(exc: BaseException) -> BaseException:
    if isinstance(exc, TreadleError):
        return exc
    if isinstance(exc, sqlite3.Error):
        err = StorageError(f"SQLite: {exc}")
        err.__cause__ = exc
        return err
    return exc


@dataclass(slots=True)
class _Write:
    fn: Operation
    durable: bool
    notify: bool
    deadline: float
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _ThreadState:
    conn: sqlite3.Connection
    loop: asyncio.AbstractEventLoop | None = None
    pending: list[_Write] = field(default_factory=list)
    scheduled: bool = False
    pause: float = 0.001
    sync_level: str = ""


class SqliteRunner:
    """Owns the connections to one database file and runs operations on them."""

    def __init__(self, path: str, *, synchronous: str, busy_timeout_seconds: float,
                 on_commit: Callable[[], None]) -> None:
        self._path = path
        self._synchronous = synchronous.upper()
        self._relaxed = "NORMAL" if self._synchronous in ("FULL", "EXTRA") else self._synchronous
        self._busy_timeout = busy_timeout_seconds
        self._on_commit = on_commit
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    # ------------------------------------------------------------------ connections

    def _state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None:
            if self._closed:
                raise StorageError("the SQLite storage is closed")
            state = _ThreadState(conn=self._connect())
            self._local.state = state
            self._all.append(state.conn)
            # a thread that ends (a web server's request thread, say) takes its connection with it
            weakref.finalize(threading.current_thread(), self._forget, state.conn)
        return state

    def _forget(self, conn: sqlite3.Connection) -> None:
        if conn in self._all:
            self._all.remove(conn)
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=0)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self._path!r}: {exc}") from exc
        try:
            return self._configure(conn)
        except BaseException:
            conn.close()
            raise

    def _configure(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.row_factory = sqlite3.Row
        deadline = time.monotonic() + self._busy_timeout
        for pragma in ("journal_mode = WAL", f"synchronous = {self._synchronous}", "foreign_keys = ON"):
            self._pragma_with_retry(conn, pragma, deadline)
        return conn

    @staticmethod
    def _pragma_with_retry(conn: sqlite3.Connection, pragma: str, deadline: float) -> None:
        # Only at connect time: switching a new file to WAL needs an exclusive lock for a moment.
        pause = 0.001
        while True:
            try:
                conn.execute(f"PRAGMA {pragma}")
                return
            except sqlite3.DatabaseError as exc:   # not a database, locked for too long, read-only...
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise StorageError(f"cannot open SQLite database: {exc}") from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def reopen(self) -> None:
        """Allow connections again after `close()`."""
        self._closed = False

    def close(self) -> None:
        """Close every connection this runner opened."""
        self._closed = True
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ reads

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only operation now, retrying if the file is momentarily locked."""
        state = self._state()
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.001
        while True:
            try:
                return fn(state.conn)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise _wrap(exc) from exc
            except Exception as exc:
                raise _wrap(exc) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    # ------------------------------------------------------------------ writes

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True, notify: bool = True) -> T:
        """Run a write in the next group transaction and wait for its commit.

        `durable=False` marks a write whose loss in a power failure is harmless (a claim, a
        heartbeat, progress: the task just runs again). A transaction holding only such
        writes commits without an fsync of its own; the next durable commit flushes it too,
        because the WAL is sequential. Crashes of the process lose nothing either way.
        `notify=False` marks a write nobody waits for (a claim, a heartbeat): it wakes no one.
        """
        state = self._state()
        loop = asyncio.get_running_loop()
        if state.loop is not loop:      # a previous loop of this thread closed with writes queued
            self._fail_all(state.pending, StorageError("the event loop that queued this write has closed"))
            state.pending, state.scheduled, state.loop = [], False, loop
        future: asyncio.Future[T] = loop.create_future()
        state.pending.append(_Write(fn, durable, notify, time.monotonic() + self._busy_timeout, future))
        if not state.scheduled:
            state.scheduled = True
            loop.call_soon(self._flush, state)
        return await future

    def _flush(self, state: _ThreadState) -> None:
        state.scheduled = False
        writes, state.pending = state.pending, []
        writes = [w for w in writes if not w.future.cancelled()]
        if not writes:
            return
        try:
            self._begin(state, any(w.durable for w in writes))
        except Exception as exc:
            if _is_busy(exc):
                self._retry_later(state, writes, exc)
            else:
                self._fail_all(writes, exc)
            return
        state.pause = 0.001
        self._run_transaction(state, writes)

    def _begin(self, state: _ThreadState, durable: bool) -> None:
        level = self._synchronous if durable else self._relaxed
        if level != state.sync_level:
            state.conn.execute(f"PRAGMA synchronous = {level}")
            state.sync_level = level
        state.conn.execute("BEGIN IMMEDIATE")

    def _retry_later(self, state: _ThreadState, writes: list[_Write], exc: BaseException) -> None:
        now = time.monotonic()
        expired = [w for w in writes if now > w.deadline]
        self._fail_all(expired, exc)
        state.pending = [w for w in writes if now <= w.deadline] + state.pending
        if state.pending and not state.scheduled and state.loop is not None:
            try:
                state.loop.call_later(state.pause, self._flush, state)
            except RuntimeError as closed:   # the loop is gone: nobody can await these writes any more
                self._fail_all(state.pending, closed)
                state.pending = []
                return
            state.scheduled = True
            state.pause = min(state.pause * 2, 0.02)

    @staticmethod
    def _fail_all(writes: list[_Write], exc: BaseException) -> None:
        for w in writes:
            if not w.future.done():
                w.future.set_exception(_wrap(exc))

    def _run_transaction(self, state: _ThreadState, writes: list[_Write]) -> None:
        conn = state.conn
        before = conn.total_changes
        results: list[tuple[_Write, bool, Any]] = []
        try:
            single = len(writes) == 1
            results = [self._apply(conn, w, savepoint=not single) for w in writes]
            if single and not results[0][1]:
                conn.execute("ROLLBACK")
            else:
                conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.warning("rollback failed", exc_info=True)
            if _is_busy(exc):
                self._retry_later(state, writes, exc)
            else:
                self._fail_all(writes, exc)
            return
        for w, ok, value in results:
            if w.future.done():
                continue
            if ok:
                w.future.set_result(value)
            else:
                w.future.set_exception(_wrap(value))
        # After the writers' own wake-ups: they carry on first (their next writes join one group
        # commit), then the waiters this commit concerns.
        if conn.total_changes != before and any(w.notify for w in writes):
            self._on_commit()

    @staticmethod
    def _apply(conn: sqlite3.Connection, w: _Write, *, savepoint: bool) -> tuple[_Write, bool, Any]:
        if savepoint:
            conn.execute("SAVEPOINT op")
        try:
            value = w.fn(conn)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise          # the whole transaction is retried
            return _undo(conn, w, exc, savepoint)
        except Exception as exc:
            return _undo(conn, w, exc, savepoint)
        if savepoint:
            conn.execute("RELEASE op")
        return w, True, value


def _undo(conn: sqlite3.Connection, w: _Write, exc: BaseException, savepoint: bool) -> tuple[_Write, bool, Any]:
    if savepoint:
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
    return w, False, exc
