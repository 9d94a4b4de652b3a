"""The reference backend: plain dictionaries in one process (`memory://`).

It implements the contract as directly as possible, which makes it the executable
specification the SQL backends are compared with (the contract suite runs on all of them),
and a fast backend for tests. It is shared by passing the same object to a `Client` and a
`Worker`; nothing survives the process.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core import serde
from ..core.clock import Clock, SystemClock
from ..core.ids import new_token
from ..core.lease import after_lease_expired
from ..core.records import (
    Cancelled,
    ClaimBatch,
    ClaimedTask,
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
from ..core.routing import Pattern, matches_any
from ..core.states import TaskStatus
from ..errors import InvalidStateError, TaskNotFoundError
from .base import Enqueued
from .changes import ALL, TASKS, ChangeCounter


@dataclass(slots=True)
class _Row:
    seq: int
    task: NewTask
    run_after: float
    created_at: float
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    lease_token: str | None = None
    lease_expires: float | None = None
    worker_id: str | None = None
    cancel_requested: bool = False
    progress: Progress | None = None
    result: Any = None
    error: ErrorInfo | None = None
    errors: list[ErrorInfo] = field(default_factory=list)
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    def holds(self, lease: LeaseRef, now: float) -> bool:
        return (self.status is TaskStatus.RUNNING and self.lease_token == lease.token
                and self.attempts == lease.attempt and self.lease_expires is not None and self.lease_expires >= now)

    def info(self) -> TaskInfo:
        t = self.task
        return TaskInfo(
            id=t.id, namespace=t.namespace, name=t.name, status=self.status, args=copy.deepcopy(t.args),
            kwargs=copy.deepcopy(t.kwargs), priority=t.priority, attempts=self.attempts, max_attempts=t.max_attempts,
            retry_policy=copy.deepcopy(t.retry_policy), timeout_seconds=t.timeout_seconds, run_after=self.run_after,
            created_at=self.created_at, updated_at=self.updated_at, started_at=self.started_at,
            finished_at=self.finished_at, result=copy.deepcopy(self.result), error=self.error,
            errors=list(self.errors), progress=self.progress, metadata=copy.deepcopy(t.metadata),
            idempotency_key=t.idempotency_key, cancel_requested=self.cancel_requested, worker_id=self.worker_id,
            lease_expires=self.lease_expires)


class MemoryStorage:
    """Tasks in a dictionary guarded by a lock; time from the injected clock."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.url = "memory://"
        self.clock = clock or SystemClock()
        self._rows: dict[str, _Row] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self._changes = ChangeCounter()

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release; the data stays with the object."""

    def _changed(self, kinds: str = ALL) -> None:
        self._changes.bump(kinds)

    async def enqueue(self, tasks: Sequence[NewTask]) -> list[Enqueued]:
        """Store tasks, honouring idempotency keys."""
        now = self.clock.now()
        for t in tasks:   # encode first, so a bad batch stores nothing
            serde.dumps([t.args, t.kwargs, t.metadata])
        out = []
        with self._lock:
            for t in tasks:
                key = (t.namespace, t.idempotency_key) if t.idempotency_key else None
                if t.id in self._rows:
                    out.append(Enqueued(t.id, False))
                    continue
                if key and key in self._keys:
                    out.append(Enqueued(self._keys[key], False))
                    continue
                self._seq += 1
                run_after = t.run_at if t.run_at is not None else now + t.delay_seconds
                self._rows[t.id] = _Row(seq=self._seq, task=copy.deepcopy(t), run_after=run_after,
                                        created_at=now, updated_at=now)
                if key:
                    self._keys[key] = t.id
                out.append(Enqueued(t.id, True))
        self._changed()
        return out

    def _due(self, namespace: str, patterns: Sequence[Pattern], now: float) -> list[_Row]:
        rows = [r for r in self._rows.values() if r.task.namespace == namespace and r.status is TaskStatus.PENDING
                and matches_any(tuple(patterns), r.task.name)]
        return sorted((r for r in rows if r.run_after <= now), key=lambda r: (-r.task.priority, r.run_after, r.seq))

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """Lease due tasks, highest priority first, then oldest due."""
        now = self.clock.now()
        with self._lock:
            chosen = self._due(namespace, patterns, now)[:max(0, limit)]
            claimed = [self._lease(r, worker_id, now, lease_seconds) for r in chosen]
            later = [r.run_after for r in self._rows.values() if r.task.namespace == namespace
                     and r.status is TaskStatus.PENDING and r.run_after > now
                     and matches_any(tuple(patterns), r.task.name)]
        if claimed:
            self._changed(TASKS)     # running now; no work appeared
        return ClaimBatch(tasks=claimed, next_due=min(later) if later and len(claimed) < limit else None)

    async def claim_task(self, namespace: str, task_id: str, worker_id: str, lease_seconds: float) -> ClaimBatch:
        """Lease this task if it is pending and due."""
        now = self.clock.now()
        with self._lock:
            row = self._rows.get(task_id)
            if row is None or row.task.namespace != namespace or row.status is not TaskStatus.PENDING \
                    or row.run_after > now:
                return ClaimBatch(tasks=[])
            claimed = self._lease(row, worker_id, now, lease_seconds)
        self._changed(TASKS)
        return ClaimBatch(tasks=[claimed])

    @staticmethod
    def _lease(row: _Row, worker_id: str, now: float, lease_seconds: float) -> ClaimedTask:
        row.status, row.attempts, row.lease_token = TaskStatus.RUNNING, row.attempts + 1, new_token()
        row.lease_expires, row.worker_id, row.started_at, row.updated_at = now + lease_seconds, worker_id, now, now
        t = row.task
        return ClaimedTask(lease=LeaseRef(t.id, row.lease_token, row.attempts), namespace=t.namespace, name=t.name,
                           args=copy.deepcopy(t.args), kwargs=copy.deepcopy(t.kwargs), max_attempts=t.max_attempts,
                           retry_policy=copy.deepcopy(t.retry_policy), timeout_seconds=t.timeout_seconds,
                           metadata=copy.deepcopy(t.metadata), priority=t.priority, lease_expires=row.lease_expires)

    async def renew(self, leases: Sequence[LeaseRef], lease_seconds: float | None) -> list[LeaseState]:
        """Extend or read leases."""
        now = self.clock.now()
        out = []
        with self._lock:
            for lease in leases:
                row = self._rows.get(lease.task_id)
                if row is None or not row.holds(lease, now):
                    out.append(LeaseState(alive=False))
                    continue
                if lease_seconds is not None:
                    row.lease_expires = max(row.lease_expires or 0.0, now + lease_seconds)
                    row.updated_at = now
                out.append(LeaseState(alive=True, cancel_requested=row.cancel_requested,
                                      lease_expires=row.lease_expires))
        return out

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> list[bool]:
        """Apply outcomes where the lease is still held (no orchestrations here: `handoff` has nothing to take)."""
        now = self.clock.now()
        with self._lock:
            results = [self._apply(o, now) for o in outcomes]
        if any(results):
            self._changed()
        return results

    def _apply(self, outcome: Outcome, now: float) -> bool:
        row = self._rows.get(outcome.lease.task_id)
        if row is None or not row.holds(outcome.lease, now):
            return False
        if isinstance(outcome, Succeeded):
            row.status, row.result = TaskStatus.SUCCEEDED, serde.loads(outcome.result_json)
        elif isinstance(outcome, Failed):
            if outcome.retry_delay is None:
                row.status = TaskStatus.FAILED
            elif row.cancel_requested:       # no retry once cancellation was asked for
                row.status = TaskStatus.CANCELLED
            else:
                row.status, row.run_after = TaskStatus.PENDING, now + outcome.retry_delay
            self._record_error(row, outcome.error)
        else:
            assert isinstance(outcome, Cancelled)
            row.status = TaskStatus.CANCELLED
            if outcome.error is not None:
                self._record_error(row, outcome.error)
        self._end_lease(row, now)
        return True

    @staticmethod
    def _record_error(row: _Row, error: ErrorInfo) -> None:
        row.error = error
        row.errors.append(error)

    @staticmethod
    def _end_lease(row: _Row, now: float) -> None:
        row.lease_token = row.lease_expires = None
        row.updated_at = now
        row.finished_at = None if row.status is TaskStatus.PENDING else now

    async def set_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Record progress where the lease is held."""
        now = self.clock.now()
        data = serde.to_jsonable(progress.data, what="progress")
        with self._lock:
            row = self._rows.get(lease.task_id)
            if row is None or not row.holds(lease, now):
                return False
            row.progress = replace(progress, data=data, at=progress.at or now)
            row.updated_at = now
        self._changed()
        return True

    async def release(self, leases: Sequence[LeaseRef]) -> int:
        """Give leased tasks back without counting the attempt."""
        now = self.clock.now()
        released = 0
        with self._lock:
            for lease in leases:
                row = self._rows.get(lease.task_id)
                if row is None or not row.holds(lease, now):
                    continue
                if row.cancel_requested:
                    row.status = TaskStatus.CANCELLED
                else:
                    row.status, row.attempts = TaskStatus.PENDING, row.attempts - 1
                row.run_after = now
                self._end_lease(row, now)
                released += 1
        if released:
            self._changed()
        return released

    async def reap_expired(self, namespace: str, limit: int) -> int:
        """Apply the core's lease-expiry decision to expired leases."""
        now = self.clock.now()
        with self._lock:
            expired = sorted((r for r in self._rows.values() if r.task.namespace == namespace
                              and r.status is TaskStatus.RUNNING and (r.lease_expires or 0.0) < now),
                             key=lambda r: r.lease_expires or 0.0)[:limit]
            for row in expired:
                decision = after_lease_expired(row.task.retry_policy, row.attempts, row.cancel_requested, now)
                row.status = decision.status
                if decision.status is TaskStatus.PENDING:
                    row.run_after = now + decision.retry_delay
                self._record_error(row, decision.error)
                self._end_lease(row, now)
        if expired:
            self._changed()
        return len(expired)

    def _row(self, namespace: str, task_id: str) -> _Row:
        row = self._rows.get(task_id)
        if row is None or row.task.namespace != namespace:
            raise TaskNotFoundError(task_id)
        return row

    async def get(self, namespace: str, task_id: str) -> TaskInfo | None:
        """One task."""
        with self._lock:
            row = self._rows.get(task_id)
            return row.info() if row is not None and row.task.namespace == namespace else None

    async def list(self, namespace: str, query: TaskQuery) -> list[TaskInfo]:
        """Tasks matching the query, newest first."""
        pattern = Pattern(query.name_pattern) if query.name_pattern else None
        with self._lock:
            rows = [r for r in self._rows.values() if r.task.namespace == namespace
                    and (not query.statuses or r.status in query.statuses)
                    and (pattern is None or pattern.matches(r.task.name))
                    and (query.created_after is None or r.created_at >= query.created_after)
                    and (query.created_before is None or r.created_at < query.created_before)]
            rows.sort(key=lambda r: (r.created_at, r.seq), reverse=True)
            return [r.info() for r in rows[query.offset:query.offset + query.limit]]

    async def cancel(self, namespace: str, task_id: str) -> TaskInfo:
        """Cancel pending at once; flag running."""
        now = self.clock.now()
        with self._lock:
            row = self._row(namespace, task_id)
            if row.status is TaskStatus.PENDING:
                row.status, row.finished_at, row.updated_at = TaskStatus.CANCELLED, now, now
            elif row.status is TaskStatus.RUNNING:
                row.cancel_requested, row.updated_at = True, now
            info = row.info()
        self._changed()
        return info

    async def redrive(self, namespace: str, task_id: str) -> TaskInfo:
        """Failed or cancelled back to pending with fresh attempts."""
        now = self.clock.now()
        with self._lock:
            row = self._row(namespace, task_id)
            if row.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                raise InvalidStateError(f"task {task_id} is {row.status.value}; only failed or cancelled tasks "
                                        "can be retried")
            row.status, row.attempts, row.run_after, row.cancel_requested = TaskStatus.PENDING, 0, now, False
            row.result = row.finished_at = row.worker_id = row.progress = None
            row.updated_at = now
            info = row.info()
        self._changed()
        return info

    async def renew_sessions(self, namespace: str, worker_id: str, lease_seconds: float) -> None:
        """Sessions pin tasks to workers across processes; in one process there is nothing to pin."""

    async def drop_sessions(self, namespace: str, worker_id: str) -> None:
        """See `renew_sessions`."""

    def change_token(self, kind: str) -> int:
        """The change counter (every change counts as every kind)."""
        return self._changes.version(kind)

    async def wait_for_change(self, since: int, timeout: float, kind: str) -> int:
        """Wait for any change after `since`."""
        return await self._changes.wait(since, timeout, kind)
