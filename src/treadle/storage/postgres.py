"""The PostgreSQL backend: many clients and workers on many machines sharing one database.

- Claims are one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)`, sized to the
  worker's free slots; completions, renewals and releases of many leases are one statement each
  (a JSON array of leases, one parameter); every lease-guarded write is a compare-and-set on token and attempt.
- Time is the database's clock (`treadle_now()`), so leases expire by one clock whichever
  machine the workers run on. Tests freeze it per session with `treadle.now`.
- State changes `NOTIFY`, in the same transaction, a channel per schema and kind of change; a
  `PgListener` thread turns those its process waits for into change hints. Polls and the lease
  sweep remain the source of truth.
- A connection error (the server restarting, a network blip) is retried with backoff for up
  to `retry_seconds`: every write is idempotent (tasks are inserted under the id the client
  chose, leases are compare-and-set), so a retry after an ambiguous commit cannot duplicate.
- Pools are per event loop (psycopg pools belong to the loop that opened them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection, AsyncPipeline, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..core import serde
from ..core.clock import Clock
from ..core.ids import new_token
from ..core.lease import after_lease_expired
from ..core.records import (
    Cancelled,
    ClaimBatch,
    ErrorInfo,
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
from ..errors import ConfigurationError, InvalidStateError, StorageError, TaskNotFoundError, TreadleError
from . import wf_steps as wf
from .auth_store import SqlAuthStore
from .base import Enqueued
from .changes import ALL, TASKS, WORK, ChangeCounter
from .postgres_listen import PgListener, channel_name
from .rows import CLAIMED_COLUMNS, as_value, claimed_from_row, info_from_row
from .sqlfiles import load_migrations, load_queries
from .wf_store import SqlWorkflowStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
Q = load_queries("postgres")
_notified: ContextVar[str] = ContextVar("treadle_pg_notified", default="")   # kinds this operation signalled
MIGRATIONS = load_migrations("postgres")
Conn = AsyncConnection[DictRow]

# Positions in a claimed row (`CLAIMED_COLUMNS`; the claim query adds `next_due` after them).
_ID, _ATTEMPTS, _TOKEN, _SESSION = (CLAIMED_COLUMNS.index(c) for c in ("id", "attempts", "lease_token", "session_id"))
_NEXT_DUE = len(CLAIMED_COLUMNS)

_OWN_OPTIONS = {"schema", "search_path", "pool_min", "pool_max", "retry_seconds", "connect_timeout_seconds"}
_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """Split a URL into the libpq conninfo and treadle's own options (schema, pool sizes...)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_OPTIONS}
    rest = [(k, v) for k, v in query if k not in _OWN_OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(rest))), own


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _leases_param(leases: Sequence[LeaseRef], results: Sequence[str] | None = None) -> dict[str, str]:
    """Leases as one JSON array of `[id, token, attempt]` (plus a result's JSON text), unpacked by the query.

    One text parameter encoded by orjson: psycopg's array dumpers are Python code, and for a batch
    of a few hundred leases they cost a worker more than the rest of recording it.
    """
    rows = [[x.task_id, x.token, x.attempt] for x in leases] if results is None else [
        [x.task_id, x.token, x.attempt, r] for x, r in zip(leases, results, strict=True)]
    return {"leases": serde.dumps(rows)}


def _text_array(items: Sequence[str]) -> str:
    """A `text[]` literal: one string parameter, where psycopg would dump a list element by element in Python."""
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


def _name_params(patterns: Sequence[Pattern]) -> dict[str, str]:
    return {"names": _text_array([p.text for p in patterns if p.is_exact]),
            "likes": _text_array([p.to_like() for p in patterns if not p.is_exact])}


def _error_json(error: ErrorInfo | None) -> str | None:
    return None if error is None else serde.dumps(error.to_dict())


async def drive(conn: Conn, steps: wf.Steps, kinds: set[str], pipeline: AsyncPipeline | None = None) -> Any:
    """Run one `wf_steps` transaction on this connection (inside the caller's transaction)."""
    return (await drive_all(conn, [steps], kinds, pipeline))[0]


async def drive_all(conn: Conn, runs: Sequence[wf.Steps], kinds: set[str],
                    pipeline: AsyncPipeline | None = None,
                    late: list[psycopg.AsyncCursor[DictRow]] | None = None) -> list[Any]:
    """Run several `wf_steps` transactions side by side on this connection, inside the caller's transaction.

    In pipeline mode and in rounds: a round sends what every unfinished run asks next and collects
    all the answers in one round trip, so n runs of k statements cost about k round trips, not n x k
    (a batch of finished activities reports to n orchestrations at once). A statement whose answer is
    not needed (`exec`) does not end its run's turn, nor does a batch of statements a run yields
    together cost more than one round trip. The runs must concern different instances (see
    `_report_runs`): a run reads what it locked, and another run's writes in between would be its own
    transaction's. The kinds of change the statements make are added to `kinds`, for the caller to notify.
    `pipeline`: the one the caller opened (before its transaction, so that its BEGIN and COMMIT share
    round trips with the statements); a pipeline opened inside would cost a sync of its own.
    `late`: where to put the cursors of `"late"` statements, whose rows the caller reads after its
    commit (the runs get None); without it they are answered like `"all"`.
    """
    if not runs:
        return []
    if pipeline is None:
        async with conn.pipeline() as own:
            return await drive_all(conn, runs, kinds, own, late)
    results: list[Any] = [None] * len(runs)
    answers: list[Any] = [None] * len(runs)
    active = list(range(len(runs)))
    while active:
        sent: list[tuple[int, bool, list[wf.Query], list[psycopg.AsyncCursor[DictRow]]]] = []
        for i in active:
            try:
                while True:
                    step = runs[i].send(answers[i])
                    batch = step if isinstance(step, list) else [step]
                    cursors = []
                    for name, params, mode in batch:
                        kinds.update(wf.signals(name, params))
                        cursors.append(await conn.execute(Q[name], params))
                        if mode == "late" and late is not None:
                            late.append(cursors[-1])
                    if any(mode != "exec" and (mode != "late" or late is None) for _, _, mode in batch):
                        sent.append((i, isinstance(step, list), batch, cursors))
                        break
                    answers[i] = [None] * len(batch) if isinstance(step, list) else None
            except StopIteration as stop:
                results[i] = stop.value
        if any(mode == "count" for _, _, batch, _ in sent for _, _, mode in batch):
            await pipeline.sync()       # a row count is known once the statement's result is in
        for i, many, batch, cursors in sent:
            got = [await _answer(cur, mode) for cur, (_, _, mode) in zip(cursors, batch, strict=True)]
            answers[i] = got if many else got[0]
        active = [i for i, _, _, _ in sent]
    return results


async def _answer(cur: psycopg.AsyncCursor[DictRow], mode: str) -> Any:
    if mode == "one":
        return await cur.fetchone()
    if mode in ("all", "late"):
        return await cur.fetchall()
    if mode == "count":
        return cur.rowcount
    return None


def _report_runs(rows: Sequence[DictRow], kinds: set[str], handoff: Handoff | None = None, *,
                 locked: bool = False, read: Sequence[DictRow] = ()) -> list[wf.Steps]:
    """The runs that report tasks which reached a state to the orchestrations waiting for them.

    One run per instance (the reports of its tasks one after the other), in the instances' order, so
    that transactions reporting to the same instances lock them in the same order; `locked`: the
    statement that returned `rows` locked the instances already (`succeed_wf`); `read`: their
    `wf_lock_for_decisions` rows, for the first report to each. The kinds of change made so far (each
    task's own) are added to `kinds`.
    """
    by_instance: dict[tuple[str, str], list[wf.Steps]] = {}
    instances = {(r["namespace"], r["instance_id"]): r for r in read}
    for row in rows:
        status = row.get("status", "succeeded")
        kinds.add(WORK if status == "pending" else TASKS)
        if row.get("wf_instance") is not None and status in wf.TERMINAL:
            key = (row["namespace"], row["wf_instance"])
            first = instances.pop(key, None) if key not in by_instance else None
            by_instance.setdefault(key, []).append(wf.task_finished(row, 0.0, handoff, locked=locked, read=first))
    return [_one_by_one(by_instance[key]) for key in sorted(by_instance)]


def _one_by_one(runs: list[wf.Steps]) -> wf.Steps:
    for run in runs:
        yield from run


async def _after_terminal(conn: Conn, row: DictRow | None, kinds: set[str],
                          handoff: Handoff | None = None, pipeline: AsyncPipeline | None = None) -> bool:
    """Whether a state change applied; a task an orchestration waits for reports its outcome to it.

    The kinds of change made are added to `kinds`: the task's, and those of what its orchestration does.
    """
    if row is None:
        return False
    await drive_all(conn, _report_runs([row], kinds, handoff), kinds, pipeline)
    return True


class PostgresStorage(SqlWorkflowStore, SqlAuthStore):
    """The PostgreSQL backend; open it with `open_storage("postgresql://user@host/db")`."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        conninfo, own = parse_url(url)
        schema = own.get("schema") or own.get("search_path") or "treadle"
        if not _SCHEMA_RE.match(schema):
            raise ConfigurationError(f"invalid schema name {schema!r}: use letters, digits and underscores")
        try:
            self._pool_min = int(own.get("pool_min", "1"))
            self._pool_max = int(own.get("pool_max", "10"))
            self._retry_seconds = float(own.get("retry_seconds", "30"))
            self._connect_timeout = float(own.get("connect_timeout_seconds", "5"))
        except ValueError as exc:
            raise ConfigurationError(f"invalid PostgreSQL URL option in {redact(url)!r}: {exc}") from None
        try:
            conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"invalid PostgreSQL URL {redact(url)!r}: {exc}") from None
        self.url = redact(url)
        self.schema = schema
        self.clock = clock
        self._conninfo = conninfo
        self._channels = {kind: channel_name(schema, kind) for kind in ALL}
        self._origin = new_token()[:12]     # names this storage's notifications, so its listener skips them
        self._kwargs: dict[str, Any] = {"options": f"-c search_path={schema}"}
        self._pools: dict[tuple[asyncio.AbstractEventLoop, bool], AsyncConnectionPool[Conn]] = {}
        self._counter = ChangeCounter()
        self._listener = PgListener(conninfo, self._channels, self._counter, self._kwargs, self._origin)
        self._migrated = False

    # ------------------------------------------------------------------ connections

    async def _configure(self, conn: Conn) -> None:
        set_json_loads(serde.loads, conn)
        set_json_dumps(lambda v: serde.dumps(v), conn)

    async def _pool(self, durable: bool = True) -> AsyncConnectionPool[Conn]:
        """This loop's pool; `durable=False` gives connections with `synchronous_commit=off`.

        Claims, heartbeats and progress use the relaxed pool: their commit does not wait for the
        WAL flush, and losing one in a server crash only means a task runs again. A later durable
        commit flushes the WAL up to itself, so a result is never durable without its claim.
        """
        loop = asyncio.get_running_loop()
        pool = self._pools.get((loop, durable))
        if pool is None:
            options = self._kwargs["options"] + ("" if durable else " -c synchronous_commit=off")
            pool = AsyncConnectionPool(
                self._conninfo, min_size=self._pool_min, max_size=max(self._pool_min, self._pool_max),
                kwargs={"autocommit": True, "row_factory": dict_row, **self._kwargs, "options": options},
                configure=self._configure, open=False,
                name=f"treadle-{self.schema}" + ("" if durable else "-relaxed"))
            try:
                await pool.open(wait=True, timeout=self._connect_timeout)
            except PoolTimeout:
                await pool.close()
                raise StorageError(f"cannot connect to PostgreSQL at {self.url} within "
                                   f"{self._connect_timeout:g}s") from None
            self._pools[(loop, durable)] = pool
        return pool

    async def _run(self, op: Callable[[Conn], Awaitable[T]], *, durable: bool = True) -> T:
        """Run `op` on a pooled connection, retrying connection failures with backoff.

        An operation that notified wakes this process's own waiters here, right after its commit
        (the listener skips this storage's own notifications).
        """
        token = _notified.set("")
        try:
            result = await self._run_once(op, durable=durable)
            if kinds := _notified.get():
                self._counter.bump(kinds)
        finally:
            _notified.reset(token)
        return result

    async def _run_once(self, op: Callable[[Conn], Awaitable[T]], *, durable: bool) -> T:
        pool = await self._pool(durable)
        deadline = asyncio.get_running_loop().time() + self._retry_seconds
        pause = 0.05
        while True:
            try:
                async with pool.connection() as conn:
                    if self.clock is not None:
                        await conn.execute("SELECT set_config('treadle.now', %s, false)", [repr(self.clock.now())])
                    return await op(conn)
            except TreadleError:
                raise
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if asyncio.get_running_loop().time() + pause > deadline:
                    raise StorageError(f"PostgreSQL at {self.url}: {exc}") from exc
                logger.warning("PostgreSQL unavailable (%s); retrying in %.2fs", str(exc).strip(), pause,
                               extra={"event": "storage_retry"})
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL: {exc}") from exc

    async def _notify(self, conn: Conn, kinds: set[str] | str) -> None:
        """Tell the other processes' listeners, at commit, what kinds of change this transaction made.

        `_run` wakes this process's own waiters after the commit. Nothing to tell, nothing sent.
        """
        if kinds:
            channels = [self._channels[k] for k in sorted(set(kinds))]
            await conn.execute("SELECT pg_notify(c, %s) FROM unnest(%s::text[]) AS c", [self._origin, channels])
            _notified.set(_notified.get() + "".join(kinds))

    async def open(self) -> None:
        """Connect, then create or migrate the schema (serialised by an advisory lock).

        Both pools connect at once: a worker's first claim uses the relaxed one.
        """
        if not self._migrated:
            await asyncio.gather(self._run(self._migrate), self._pool(durable=False))
            self._migrated = True

    async def _migrate(self, conn: Conn) -> None:
        latest = MIGRATIONS[-1][0]
        with contextlib.suppress(psycopg.errors.UndefinedTable):    # a new schema: create it below
            cur = await conn.execute("SELECT coalesce(max(version), 0) AS v FROM treadle_migrations")
            row = await cur.fetchone()
            if row is not None and int(row["v"]) >= latest:
                return          # the usual start: one round trip, no lock
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"treadle-migrate:{self.schema}"])
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
            await conn.execute("CREATE TABLE IF NOT EXISTS treadle_migrations (version integer PRIMARY KEY, "
                               "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            cur = await conn.execute("SELECT coalesce(max(version), 0) AS v FROM treadle_migrations")
            row = await cur.fetchone()
            current = int(row["v"]) if row else 0
            for number, name, script in MIGRATIONS:
                if number > current:
                    await conn.execute(script.encode())
                    await conn.execute("INSERT INTO treadle_migrations (version, name) VALUES (%s, %s)",
                                       [number, name])

    async def close(self) -> None:
        """Close the listener and the pools of every event loop that opened one."""
        self._listener.close()
        pools, self._pools = self._pools, {}
        current = asyncio.get_running_loop()
        for (loop, _), pool in pools.items():
            if loop is current:
                await pool.close()
            elif loop.is_running():          # another thread's loop (a sync client's portal): close it there
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(pool.close(), loop)),
                                           5)
            elif not loop.is_closed():
                loop.run_until_complete(pool.close())

    # ------------------------------------------------------------------ submitting

    async def enqueue(self, tasks: Sequence[NewTask]) -> list[Enqueued]:
        """Insert tasks (one task: one statement; a batch: one transaction); the id or idempotency key
        decides duplicates."""
        params = [{"id": t.id, "namespace": t.namespace, "name": t.name, "args": serde.dumps(t.args),
                   "kwargs": serde.dumps(t.kwargs), "priority": t.priority, "run_at": t.run_at,
                   "delay": t.delay_seconds, "max_attempts": t.max_attempts,
                   "retry_policy": serde.dumps(t.retry_policy), "timeout_seconds": t.timeout_seconds,
                   "idempotency_key": t.idempotency_key, "metadata": serde.dumps(t.metadata),
                   "channel": self._channels[WORK], "payload": self._origin} for t in tasks]

        async def op(conn: Conn) -> list[Enqueued]:
            if len(params) == 1:
                return [await self._insert(conn, params[0])]
            async with conn.transaction():
                return [await self._insert(conn, p) for p in params]

        return await self._run(op)

    @staticmethod
    async def _insert(conn: Conn, params: dict[str, Any]) -> Enqueued:
        row = await (await conn.execute(Q["insert_task"], params)).fetchone()
        if row is not None:
            _notified.set(_notified.get() + WORK)         # the insert statement notified
            return Enqueued(row["id"], True)
        existing = await (await conn.execute(Q["existing_task"], params)).fetchone()
        assert existing is not None
        return Enqueued(existing["id"], False)

    # ------------------------------------------------------------------ workers

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """Lease up to `limit` due tasks with SKIP LOCKED; report when the next delayed one is due."""
        if limit <= 0 or not patterns:
            return ClaimBatch(tasks=[])
        params = {"namespace": namespace, "worker_id": worker_id, "limit": limit, "lease_seconds": lease_seconds,
                  **_name_params(patterns)}

        async def op(conn: Conn) -> ClaimBatch:
            cur = conn.cursor(row_factory=tuple_row)      # read by position: see CLAIMED_COLUMNS
            rows = await (await cur.execute(Q["claim"], params)).fetchall()
            next_due = rows[0][_NEXT_DUE] if rows else None
            rows = [r for r in rows if r[_ID] is not None]
            took_all = len(rows) < limit       # a worker that took all there was waits until next_due
            rows = await self._own_sessions(conn, rows, params)
            tasks = [claimed_from_row(r, as_value) for r in rows]
            return ClaimBatch(tasks=tasks, next_due=next_due if took_all else None)

        return await self._run(op, durable=False)

    async def claim_task(self, namespace: str, task_id: str, worker_id: str, lease_seconds: float) -> ClaimBatch:
        """Lease this task if it is pending and due (taking its session, like `claim`)."""
        params = {"namespace": namespace, "id": task_id, "worker_id": worker_id, "lease_seconds": lease_seconds}

        async def op(conn: Conn) -> ClaimBatch:
            rows = await (await conn.cursor(row_factory=tuple_row).execute(Q["claim_task"], params)).fetchall()
            rows = await self._own_sessions(conn, rows, params)
            return ClaimBatch(tasks=[claimed_from_row(r, as_value) for r in rows])

        return await self._run(op, durable=False)

    async def _own_sessions(self, conn: Conn, rows: list[tuple[Any, ...]],
                            params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Take ownership of the claimed tasks' sessions; give back tasks whose session another worker
        took at the same moment (two claims can both see a session free)."""
        lost = set()
        for session in {r[_SESSION] for r in rows if r[_SESSION] is not None}:
            owned = await conn.execute(Q["own_session"], params | {"session_id": session})
            if owned.rowcount == 0:
                lost.add(session)
        if not lost:
            return rows
        give_back = [LeaseRef(r[_ID], r[_TOKEN], r[_ATTEMPTS]) for r in rows if r[_SESSION] in lost]
        await conn.execute(Q["release"], _leases_param(give_back))
        return [r for r in rows if r[_SESSION] not in lost]

    async def renew_sessions(self, namespace: str, worker_id: str, lease_seconds: float) -> None:
        """Extend this worker's session leases."""
        params = {"namespace": namespace, "worker_id": worker_id, "lease_seconds": lease_seconds}

        async def op(conn: Conn) -> None:
            await conn.execute(Q["renew_sessions"], params)

        await self._run(op, durable=False)

    async def drop_sessions(self, namespace: str, worker_id: str) -> None:
        """Give this worker's sessions up."""
        params = {"namespace": namespace, "worker_id": worker_id}

        async def op(conn: Conn) -> None:
            await conn.execute(Q["drop_sessions"], params)

        await self._run(op)

    async def renew(self, leases: Sequence[LeaseRef], lease_seconds: float | None) -> list[LeaseState]:
        """Extend (or, with None, read) leases in one statement."""
        if not leases:
            return []
        params: dict[str, Any] = {**_leases_param(leases), "lease_seconds": lease_seconds}

        async def op(conn: Conn) -> list[LeaseState]:
            query = Q["lease_state"] if lease_seconds is None else Q["renew"]
            rows = await (await conn.execute(query, params)).fetchall()
            alive = {r["id"]: r for r in rows}
            return [LeaseState(alive=True, cancel_requested=alive[x.task_id]["cancel_requested"],
                               lease_expires=alive[x.task_id]["lease_expires"])
                    if x.task_id in alive else LeaseState(alive=False) for x in leases]

        return await self._run(op, durable=False)

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> list[bool]:
        """Record outcomes: successes in one statement (the common case: one commit), the rest beside them."""
        wins = [o for o in outcomes if isinstance(o, Succeeded)]
        params = {**_leases_param([o.lease for o in wins], [o.result_json for o in wins]),
                  "channel": self._channels[TASKS], "payload": self._origin}
        kinds: set[str] = set()
        late: list[psycopg.AsyncCursor[DictRow]] = []      # answers read after the commit (`drive_all`)

        async def succeed(conn: Conn, pipeline: AsyncPipeline | None = None) -> set[tuple[str, str]]:
            if not wins:
                return set()
            reporting = any(o.lease.workflow for o in wins)      # then the instances are locked too
            done = await conn.execute(Q["succeed_wf" if reporting else "succeed"], params)
            ahead = None
            if reporting and handoff is not None and handoff.decider is not None:     # may decide in place
                ahead = await conn.execute(Q["wf_lock_for_decisions"], {
                    "ids": [o.lease.task_id for o in wins if o.lease.workflow]})
            rows = await done.fetchall()
            read = await ahead.fetchall() if ahead is not None else []
            if rows:
                _notified.set(_notified.get() + TASKS)     # the statement notified
            tokens = {o.lease.task_id: o.lease.token for o in wins}
            await drive_all(conn, _report_runs(rows, kinds, handoff, locked=reporting, read=read), kinds, pipeline,
                            late)
            return {(r["id"], tokens[r["id"]]) for r in rows}

        async def op(conn: Conn) -> list[bool]:
            kinds.clear()
            late.clear()
            if handoff is not None:
                handoff.reset()     # this may be a retry of the transaction
                handoff.may_end = True      # `wf_end` makes this transaction's commit durable
            if len(wins) == len(outcomes) and not any(o.lease.workflow for o in outcomes):
                accepted = await succeed(conn)     # the hot path: one statement, one commit
            else:
                # the pipeline first: BEGIN and COMMIT then share round trips with the statements
                async with conn.pipeline() as pipeline, conn.transaction():
                    accepted = await succeed(conn, pipeline)
                    for o in outcomes:
                        if not isinstance(o, Succeeded) and await self._fail(conn, o, kinds, handoff, pipeline):
                            accepted.add((o.lease.task_id, o.lease.token))
                    await self._notify(conn, kinds - set(_notified.get()))
                if late and handoff is not None:     # committed: which tasks leased at birth were inserted
                    handoff.confirm({r["id"] for cur in late for r in await cur.fetchall() if r["lease_token"]})
            return [(o.lease.task_id, o.lease.token) in accepted for o in outcomes]

        return await self._run(op, durable=not all(o.lease.workflow for o in outcomes))

    @staticmethod
    async def _fail(conn: Conn, outcome: Failed | Cancelled, kinds: set[str], handoff: Handoff | None = None,
                    pipeline: AsyncPipeline | None = None) -> bool:
        error: ErrorInfo | None = outcome.error
        if isinstance(outcome, Failed):
            status = "failed" if outcome.retry_delay is None else "pending"
            delay = outcome.retry_delay or 0.0
        else:
            status, delay = "cancelled", 0.0
        cur = await conn.execute(Q["fail"], {
            "id": outcome.lease.task_id, "token": outcome.lease.token, "attempt": outcome.lease.attempt,
            "status": status, "error": _error_json(error), "retry_delay": delay})
        return await _after_terminal(conn, await cur.fetchone(), kinds, handoff, pipeline)

    async def set_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Record progress where the lease is held."""
        data = serde.dumps(progress.to_dict(), what="progress")

        async def op(conn: Conn) -> bool:
            cur = await conn.execute(Q["set_progress"], {"id": lease.task_id, "token": lease.token,
                                                         "attempt": lease.attempt, "progress": data})
            return await cur.fetchone() is not None

        return await self._run(op, durable=False)

    async def release(self, leases: Sequence[LeaseRef]) -> int:
        """Give leased tasks back without counting the attempt."""
        if not leases:
            return 0

        async def op(conn: Conn) -> int:
            async with conn.transaction():
                rows = await (await conn.execute(Q["release"], _leases_param(leases))).fetchall()
                kinds: set[str] = set()
                await drive_all(conn, _report_runs(rows, kinds), kinds)
                await self._notify(conn, kinds)
            return len(rows)

        return await self._run(op)

    async def reap_expired(self, namespace: str, limit: int) -> int:
        """Apply the core's lease-expiry decision to expired leases (locked, so reapers never collide)."""

        async def op(conn: Conn) -> int:
            done = 0
            kinds: set[str] = set()
            async with conn.transaction():
                rows = await (await conn.execute(Q["expired"], {"namespace": namespace, "limit": limit})).fetchall()
                for row in rows:
                    decision = after_lease_expired(row["retry_policy"], row["attempts"], row["cancel_requested"],
                                                   row["now"])
                    cur = await conn.execute(Q["expire"], {
                        "id": row["id"], "token": row["lease_token"], "status": decision.status.value,
                        "error": _error_json(decision.error), "retry_delay": decision.retry_delay})
                    done += await _after_terminal(conn, await cur.fetchone(), kinds)
                await self._notify(conn, kinds)
            return done

        return await self._run(op)

    # ------------------------------------------------------------------ reading and administration

    async def get(self, namespace: str, task_id: str) -> TaskInfo | None:
        """One task."""
        async def op(conn: Conn) -> TaskInfo | None:
            row = await (await conn.execute(Q["get"], {"namespace": namespace, "id": task_id})).fetchone()
            return info_from_row(row, as_value) if row else None

        return await self._run(op)

    async def list(self, namespace: str, query: TaskQuery) -> list[TaskInfo]:
        """Tasks matching the query, newest first."""
        where = [sql.SQL("namespace = %(namespace)s")]
        params: dict[str, Any] = {"namespace": namespace, "limit": query.limit, "offset": query.offset,
                                  "statuses": [s.value for s in query.statuses], "after": query.created_after,
                                  "before": query.created_before}
        if query.statuses:
            where.append(sql.SQL("status = ANY(%(statuses)s)"))
        if query.name_pattern:
            params |= _name_params([Pattern(query.name_pattern)])
            where.append(sql.SQL("(name = ANY(%(names)s::text[]) OR name LIKE ANY(%(likes)s::text[]))"))
        if query.created_after is not None:
            where.append(sql.SQL("created_at >= %(after)s"))
        if query.created_before is not None:
            where.append(sql.SQL("created_at < %(before)s"))
        statement = sql.SQL("SELECT * FROM tasks WHERE {} ORDER BY created_at DESC, seq DESC "
                            "LIMIT %(limit)s OFFSET %(offset)s").format(sql.SQL(" AND ").join(where))

        async def op(conn: Conn) -> list[TaskInfo]:
            return [info_from_row(r, as_value) for r in await (await conn.execute(statement, params)).fetchall()]

        return await self._run(op)

    async def cancel(self, namespace: str, task_id: str) -> TaskInfo:
        """Cancel pending at once; flag running."""
        params = {"namespace": namespace, "id": task_id}

        async def op(conn: Conn) -> TaskInfo:
            async with conn.transaction():
                kinds: set[str] = set()
                pending = await (await conn.execute(Q["cancel_pending"], params)).fetchone()
                changed = await _after_terminal(conn, pending, kinds)
                if not changed and await (await conn.execute(Q["cancel_running"], params)).fetchone() is not None:
                    kinds.add(TASKS)
                row = await (await conn.execute(Q["get"], params)).fetchone()
                if row is None:
                    raise TaskNotFoundError(task_id)
                await self._notify(conn, kinds)
            return info_from_row(row, as_value)

        return await self._run(op)

    async def redrive(self, namespace: str, task_id: str) -> TaskInfo:
        """Failed or cancelled back to pending with fresh attempts."""
        params = {"namespace": namespace, "id": task_id}

        async def op(conn: Conn) -> TaskInfo:
            async with conn.transaction():
                changed = await (await conn.execute(Q["redrive"], params)).fetchone()
                row = await (await conn.execute(Q["get"], params)).fetchone()
                if row is None:
                    raise TaskNotFoundError(task_id)
                if changed is None:
                    raise InvalidStateError(f"task {task_id} is {row['status']}; only failed or cancelled tasks "
                                            "can be retried")
                await self._notify(conn, WORK + TASKS)
            return info_from_row(row, as_value)

        return await self._run(op)

    # ------------------------------------------------------------------ change hints

    async def _steps(self, steps: Callable[[], wf.Steps], *, write: bool, durable: bool = True) -> Any:
        async def op(conn: Conn) -> Any:
            kinds: set[str] = set()
            if not write:               # reads: no transaction, the statements pipelined in one round trip
                return await drive(conn, steps(), kinds)
            async with conn.pipeline() as pipeline, conn.transaction():
                result = await drive(conn, steps(), kinds, pipeline)
                await self._notify(conn, kinds)
            return result

        return await self._run(op, durable=durable or not write)

    def _wf_now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def change_token(self, kind: str) -> int:
        """The change counter of `kind` (bumped by notifications and by this process's own writes)."""
        return self._counter.version(kind)

    async def wait_for_change(self, since: int, timeout: float, kind: str) -> int:
        """Wait for a notification of `kind` after `since`."""
        self._listener.want(kind)
        return await self._counter.wait(since, timeout, kind)
