"""The embedded default backend: one SQLite file in WAL mode, shared safely by many processes.

Writes are serialised by SQLite's write lock (`BEGIN IMMEDIATE`) and grouped per event loop by
`SqliteRunner`, so concurrent completions and submissions share one durable commit. Time is
the storage clock (all processes sharing a file share a machine, hence a clock).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..core import serde
from ..core.clock import Clock, SystemClock
from ..core.lease import after_lease_expired
from ..core.records import (
    Cancelled,
    ClaimBatch,
    ClaimedTask,
    Failed,
    Handoff,
    LeaseRef,
    LeaseState,
    NewTask,
    Outcome,
    Progress,
    Succeeded,
    TaskInfo,
    TaskQuery,
)
from ..core.routing import Pattern
from ..core.states import TaskStatus
from ..errors import ConfigurationError, InvalidStateError, TaskNotFoundError
from . import wf_steps as wf
from .auth_store import SqlAuthStore
from .base import Enqueued
from .rows import as_text_json, claimed_from_row, info_from_row
from .sqlfiles import load_migrations, load_queries
from .sqlite_runner import SqliteRunner
from .watch import ChangeWatcher
from .wf_store import SqlWorkflowStore

T = TypeVar("T")
Q = load_queries("sqlite")
# A named query of several statements (SQLite has no writes in a WITH) runs them in turn: its parts.
_PARTS = {name: [part.strip().rstrip(";") for part in query.split("\n-- then\n")]
          for name, query in Q.items() if "\n-- then\n" in query}
MIGRATIONS = load_migrations("sqlite")

_SYNC_MODES = {"FULL", "NORMAL", "EXTRA", "OFF"}


def _name_filter(patterns: Sequence[Pattern]) -> tuple[str, dict[str, str]]:
    """A `(name IN (...) OR name GLOB ...)` clause with its named parameters."""
    params: dict[str, str] = {}
    exact = [p.text for p in patterns if p.is_exact]
    clauses = []
    if exact:
        names = []
        for i, text in enumerate(exact):
            params[f"name_{i}"] = text
            names.append(f":name_{i}")
        clauses.append(f"name IN ({', '.join(names)})")
    for i, p in enumerate(p for p in patterns if not p.is_exact):
        params[f"glob_{i}"] = p.to_glob()
        clauses.append(f"name GLOB :glob_{i}")
    if not clauses:
        return "0", {}
    return "(" + " OR ".join(clauses) + ")", params


def _with_filter(query: str, patterns: Sequence[Pattern], named: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Fill a query's `/*name_filter*/` slot for `patterns`."""
    clause, params = _name_filter(patterns)
    return query.replace("/*name_filter*/", clause), named | params


def row_to_info(row: sqlite3.Row) -> TaskInfo:
    """Build a `TaskInfo` from a full `tasks` row."""
    return info_from_row(row, as_text_json)


def _claimed(row: sqlite3.Row) -> ClaimedTask:
    return claimed_from_row(row, as_text_json)


def _lease_params(lease: LeaseRef, now: float) -> dict[str, Any]:
    return {"id": lease.task_id, "token": lease.token, "attempt": lease.attempt, "now": now}


def _statements(script: str) -> list[str]:
    """Split a script into statements (`sqlite3.complete_statement` knows about comments and strings)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(x.strip().startswith("--") for x in buf.strip().splitlines()):
        out.append(buf.strip())
    return out


def drive(conn: sqlite3.Connection, steps: wf.Steps) -> Any:
    """Run a `wf_steps` transaction on this connection (already inside the write transaction)."""
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            answer = [_answer(conn, *query) for query in step] if isinstance(step, list) else _answer(conn, *step)
    except StopIteration as stop:
        return stop.value


def _answer(conn: sqlite3.Connection, name: str, params: dict[str, Any], mode: str) -> Any:
    *first, last = _PARTS.get(name) or [Q[name]]
    for part in first:
        conn.execute(part, params)
    cur = conn.execute(last, params)
    if mode == "one":
        row = cur.fetchone()
        return dict(row) if row is not None else None
    if mode in ("all", "late"):             # the answer is at hand: no need to settle it later
        return [dict(r) for r in cur.fetchall()]
    if mode == "count":
        return cur.rowcount
    return None


def _after_terminal(conn: sqlite3.Connection, changed: sqlite3.Row | None, now: float,
                    handoff: Handoff | None = None) -> bool:
    """Whether a state change applied; a task an orchestration waits for reports its outcome to it.

    `changed` is the row the terminal statement returned. The write transaction holds the
    database's lock, so every instance is locked already.
    """
    if changed is None:
        return False
    if changed["wf_instance"] is not None and changed["status"] in wf.TERMINAL:
        drive(conn, wf.task_finished(dict(changed), now, handoff, locked=True))
    return True


def migrate(conn: sqlite3.Connection) -> int:
    """Apply missing migrations inside the caller's write transaction; return the schema version."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for number, _name, script in MIGRATIONS:
        if number > version:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            version = number
    return version


class SqliteStorage(SqlWorkflowStore, SqlAuthStore):
    """The SQLite backend; open it with `open_storage("sqlite:///path.db")`."""

    def __init__(self, path: str, *, clock: Clock | None = None, synchronous: str = "FULL",
                 busy_timeout_ms: int = 30_000) -> None:
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            raise ConfigurationError("SQLite storage needs a file path (workers share it), not :memory:")
        if synchronous.upper() not in _SYNC_MODES:
            raise ConfigurationError(f"synchronous must be one of {sorted(_SYNC_MODES)}, got {synchronous!r}")
        self.path = path
        self.url = f"sqlite:///{path}"
        self.clock = clock or SystemClock()
        self._watcher = ChangeWatcher(path)
        self._runner = SqliteRunner(path, synchronous=synchronous, busy_timeout_seconds=busy_timeout_ms / 1000,
                                    on_commit=self._watcher.committed)
        self._opened = False

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, write: bool, durable: bool = True,
                    notify: bool = True) -> T:
        if write:
            return await self._runner.write(fn, durable=durable, notify=notify)
        return await self._runner.read(fn)

    async def open(self) -> None:
        """Open the file (creating it) and bring the schema up to date."""
        if self._opened:
            return
        self._runner.reopen()
        self._watcher.reopen()
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise ConfigurationError(f"cannot open SQLite database {self.path!r}: "
                                     f"directory {directory!r} does not exist")
        await self._call(migrate, write=True)
        self._opened = True

    async def close(self) -> None:
        """Close the connections and stop the change watcher."""
        self._runner.close()
        self._watcher.close()
        self._opened = False

    async def enqueue(self, tasks: Sequence[NewTask]) -> list[Enqueued]:
        """Insert tasks in one transaction, honouring idempotency keys."""
        now = self.clock.now()

        def op(conn: sqlite3.Connection) -> list[Enqueued]:
            out = []
            for t in tasks:
                run_after = t.run_at if t.run_at is not None else now + t.delay_seconds
                cur = conn.execute(Q["insert_task"], {
                    "id": t.id, "namespace": t.namespace, "name": t.name, "args": serde.dumps(t.args),
                    "kwargs": serde.dumps(t.kwargs), "priority": t.priority, "run_after": run_after,
                    "max_attempts": t.max_attempts, "retry_policy": serde.dumps(t.retry_policy),
                    "timeout_seconds": t.timeout_seconds, "idempotency_key": t.idempotency_key,
                    "metadata": serde.dumps(t.metadata), "now": now})
                if cur.rowcount == 1:
                    out.append(Enqueued(t.id, True))
                else:
                    row = conn.execute(Q["existing_task"], {
                        "id": t.id, "namespace": t.namespace, "idempotency_key": t.idempotency_key}).fetchone()
                    out.append(Enqueued(row["id"], False))
            return out

        return await self._call(op, write=True)

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """Lease up to `limit` due tasks; also report when the next delayed one is due."""
        if limit <= 0 or not patterns:
            return ClaimBatch(tasks=[])
        now = self.clock.now()
        named = {"namespace": namespace, "now": now, "lease_seconds": lease_seconds, "worker_id": worker_id,
                 "limit": limit}
        claim_sql, claim_params = _with_filter(Q["claim"], patterns, named)
        due_sql, due_params = _with_filter(Q["next_due"], patterns, named)
        probe_sql, probe_params = _with_filter(Q["any_due"], patterns, named)

        def probe(conn: sqlite3.Connection) -> bool:
            return conn.execute(probe_sql, probe_params).fetchone() is not None

        def op(conn: sqlite3.Connection) -> ClaimBatch:
            rows = conn.execute(claim_sql, claim_params).fetchall()
            for session in {r["session_id"] for r in rows if r["session_id"] is not None}:
                # the claim skipped sessions owned by another live worker: this worker owns these now
                conn.execute(Q["own_session"], named | {"session_id": session})
            tasks = [_claimed(r) for r in rows]
            next_due = None
            if len(tasks) < limit:
                next_due = conn.execute(due_sql, due_params).fetchone()[0]
            return ClaimBatch(tasks=tasks, next_due=next_due)

        # Reading first keeps idle workers from taking the write lock for nothing.
        if not await self._call(probe, write=False):
            next_due = await self._call(lambda conn: conn.execute(due_sql, due_params).fetchone()[0], write=False)
            return ClaimBatch(tasks=[], next_due=next_due)
        return await self._call(op, write=True, durable=False, notify=False)

    async def claim_task(self, namespace: str, task_id: str, worker_id: str, lease_seconds: float) -> ClaimBatch:
        """Lease this task if it is pending and due (taking its session, like `claim`)."""
        named = {"namespace": namespace, "id": task_id, "now": self.clock.now(), "lease_seconds": lease_seconds,
                 "worker_id": worker_id}

        def op(conn: sqlite3.Connection) -> ClaimBatch:
            row = conn.execute(Q["claim_task"], named).fetchone()
            if row is None:
                return ClaimBatch(tasks=[])
            if row["session_id"] is not None:
                conn.execute(Q["own_session"], named | {"session_id": row["session_id"]})
            return ClaimBatch(tasks=[_claimed(row)])

        return await self._call(op, write=True, durable=False, notify=False)

    async def renew(self, leases: Sequence[LeaseRef], lease_seconds: float | None) -> list[LeaseState]:
        """Extend (or, with None, just read) leases."""
        now = self.clock.now()

        def op(conn: sqlite3.Connection) -> list[LeaseState]:
            out = []
            for lease in leases:
                params = _lease_params(lease, now)
                if lease_seconds is None:
                    row = conn.execute(Q["lease_state"], params).fetchone()
                else:
                    row = conn.execute(Q["renew"], params | {"lease_seconds": lease_seconds}).fetchone()
                out.append(LeaseState(alive=False) if row is None else LeaseState(
                    alive=True, cancel_requested=bool(row[0]), lease_expires=row[1]))
            return out

        return await self._call(op, write=lease_seconds is not None, durable=False, notify=False)

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> list[bool]:
        """Record outcomes; each is a compare-and-set on the lease."""
        now = self.clock.now()

        def op(conn: sqlite3.Connection) -> list[bool]:
            if handoff is not None:
                handoff.reset()     # this may be a retry of the transaction
            return [_after_terminal(conn, conn.execute(*self._outcome_sql(o, now)).fetchone(), now, handoff)
                    for o in outcomes]

        return await self._call(op, write=True, durable=not all(o.lease.workflow for o in outcomes))

    @staticmethod
    def _outcome_sql(outcome: Outcome, now: float) -> tuple[str, dict[str, Any]]:
        params = _lease_params(outcome.lease, now)
        if isinstance(outcome, Succeeded):
            return Q["succeed"], params | {"result": outcome.result_json}
        if isinstance(outcome, Failed):
            status = TaskStatus.FAILED if outcome.retry_delay is None else TaskStatus.PENDING
            return Q["fail"], params | {"status": status.value, "error": serde.dumps(outcome.error.to_dict()),
                                        "retry_delay": outcome.retry_delay or 0.0}
        assert isinstance(outcome, Cancelled)
        error = serde.dumps(outcome.error.to_dict()) if outcome.error else None
        return Q["fail"], params | {"status": TaskStatus.CANCELLED.value, "error": error, "retry_delay": 0.0}

    async def set_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Record progress if the lease is still held."""
        now = self.clock.now()
        data = serde.dumps(Progress(percent=progress.percent, message=progress.message, data=progress.data,
                                    at=progress.at or now).to_dict(), what="progress")

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(Q["set_progress"], _lease_params(lease, now) | {"progress": data}).rowcount == 1

        return await self._call(op, write=True, durable=False, notify=False)

    async def release(self, leases: Sequence[LeaseRef]) -> int:
        """Return leased tasks to pending without counting the attempt."""
        now = self.clock.now()

        def op(conn: sqlite3.Connection) -> int:
            return sum(_after_terminal(conn, conn.execute(Q["release"], _lease_params(lease, now)).fetchone(), now)
                       for lease in leases)

        return await self._call(op, write=True)

    async def reap_expired(self, namespace: str, limit: int) -> int:
        """Retry, fail or cancel running tasks whose lease expired."""
        now = self.clock.now()

        params = {"namespace": namespace, "now": now, "limit": limit}
        if await self._call(lambda conn: conn.execute(Q["any_expired"], params).fetchone() is None, write=False):
            return 0     # the common case: reading first keeps the write lock free

        def op(conn: sqlite3.Connection) -> int:
            rows = conn.execute(Q["expired"], params).fetchall()
            done = 0
            for row in rows:
                decision = after_lease_expired(serde.loads(row["retry_policy"]), row["attempts"],
                                               bool(row["cancel_requested"]), now)
                changed = conn.execute(Q["expire"], {
                    "id": row["id"], "token": row["lease_token"], "now": now, "status": decision.status.value,
                    "error": serde.dumps(decision.error.to_dict()), "retry_delay": decision.retry_delay,
                }).fetchone()
                done += _after_terminal(conn, changed, now)
            return done

        return await self._call(op, write=True)

    async def get(self, namespace: str, task_id: str) -> TaskInfo | None:
        """One task by id."""
        def op(conn: sqlite3.Connection) -> TaskInfo | None:
            row = conn.execute(Q["get"], {"namespace": namespace, "id": task_id}).fetchone()
            return row_to_info(row) if row else None

        return await self._call(op, write=False)

    async def list(self, namespace: str, query: TaskQuery) -> list[TaskInfo]:
        """Tasks matching the query, newest first."""
        where = ["namespace = :namespace"]
        params: dict[str, Any] = {"namespace": namespace, "limit": query.limit, "offset": query.offset,
                                  "after": query.created_after, "before": query.created_before}
        if query.statuses:
            for i, status in enumerate(query.statuses):
                params[f"status_{i}"] = status.value
            where.append(f"status IN ({', '.join(f':status_{i}' for i in range(len(query.statuses)))})")
        if query.name_pattern:
            clause, values = _name_filter([Pattern(query.name_pattern)])
            where.append(clause)
            params |= values
        if query.created_after is not None:
            where.append("created_at >= :after")
        if query.created_before is not None:
            where.append("created_at < :before")
        sql = (f"SELECT * FROM tasks WHERE {' AND '.join(where)} "
               "ORDER BY created_at DESC, seq DESC LIMIT :limit OFFSET :offset")

        def op(conn: sqlite3.Connection) -> list[TaskInfo]:
            return [row_to_info(r) for r in conn.execute(sql, params).fetchall()]

        return await self._call(op, write=False)

    async def cancel(self, namespace: str, task_id: str) -> TaskInfo:
        """Cancel now if pending, request cancellation if running."""
        now = self.clock.now()
        params = {"namespace": namespace, "id": task_id, "now": now}

        def op(conn: sqlite3.Connection) -> TaskInfo:
            if not _after_terminal(conn, conn.execute(Q["cancel_pending"], params).fetchone(), now):
                conn.execute(Q["cancel_running"], params)
            row = conn.execute(Q["get"], params).fetchone()
            if row is None:
                raise TaskNotFoundError(task_id)
            return row_to_info(row)

        return await self._call(op, write=True)

    async def redrive(self, namespace: str, task_id: str) -> TaskInfo:
        """Re-drive a failed or cancelled task."""
        now = self.clock.now()
        params = {"namespace": namespace, "id": task_id, "now": now}

        def op(conn: sqlite3.Connection) -> TaskInfo:
            changed = conn.execute(Q["redrive"], params).rowcount
            row = conn.execute(Q["get"], params).fetchone()
            if row is None:
                raise TaskNotFoundError(task_id)
            if not changed:
                raise InvalidStateError(f"task {task_id} is {row['status']}; only failed or cancelled tasks "
                                        "can be retried")
            return row_to_info(row)

        return await self._call(op, write=True)

    async def renew_sessions(self, namespace: str, worker_id: str, lease_seconds: float) -> None:
        """Extend this worker's session leases."""
        params = {"namespace": namespace, "worker_id": worker_id, "lease_seconds": lease_seconds,
                  "now": self.clock.now()}
        await self._call(lambda conn: conn.execute(Q["renew_sessions"], params), write=True, durable=False,
                         notify=False)

    async def drop_sessions(self, namespace: str, worker_id: str) -> None:
        """Give this worker's sessions up."""
        params = {"namespace": namespace, "worker_id": worker_id}
        await self._call(lambda conn: conn.execute(Q["drop_sessions"], params), write=True, notify=False)

    async def _steps(self, steps: Callable[[], wf.Steps], *, write: bool, durable: bool = True) -> Any:
        return await self._call(lambda conn: drive(conn, steps()), write=write, durable=durable)

    def _wf_now(self) -> float:
        return self.clock.now()

    def change_token(self, kind: str) -> int:
        """The watcher's change counter (any commit counts as every kind)."""
        return self._watcher.version(kind)

    async def wait_for_change(self, since: int, timeout: float, kind: str) -> int:
        """Wait for a commit by any process after `since`."""
        return await self._watcher.wait(since, timeout, kind)
