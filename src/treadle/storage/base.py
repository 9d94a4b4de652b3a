"""The one storage contract that `Client`, `Worker` and the workflow runtime talk to.

Verbs are domain operations, each atomic: a backend applies the decision it is given (or the
pure decision from `treadle.core`) as a compare-and-set, never a read-modify-write race. Every
lease-guarded verb checks (status `running`, lease token, attempt, lease not expired by the
store's clock), so a worker that lost its lease cannot record anything.

Pushes are hints: `wait_for_change` may return early or spuriously; callers re-read the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..core.records import ClaimBatch, Handoff, LeaseRef, LeaseState, NewTask, Outcome, Progress, TaskInfo, TaskQuery
from ..core.routing import Pattern


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The id a submission got, and whether it created a task (False: the idempotency key existed)."""

    task_id: str
    created: bool


@runtime_checkable
class Storage(Protocol):
    """What every backend (SQLite, PostgreSQL, the remote server) implements."""

    url: str

    async def open(self) -> None:
        """Connect and create or migrate the schema; safe when several processes start at once."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...

    async def enqueue(self, tasks: Sequence[NewTask]) -> list[Enqueued]:
        """Store new tasks in one transaction; an existing idempotency key returns its task instead."""
        ...

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """Lease up to `limit` due pending tasks whose names match, highest priority first."""
        ...

    async def claim_task(self, namespace: str, task_id: str, worker_id: str, lease_seconds: float) -> ClaimBatch:
        """Lease this one task if it is pending and due, whatever its name; an empty batch otherwise.

        For a runner handed one task id by something else (Azolla's shepherd model), which must
        hold the lease to record the outcome like any worker.
        """
        ...

    async def renew(self, leases: Sequence[LeaseRef], lease_seconds: float | None) -> list[LeaseState]:
        """Extend live leases to at least now + `lease_seconds` (None: only read their state)."""
        ...

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> list[bool]:
        """Record attempt outcomes in one transaction; False where the lease was no longer held.

        Outcomes of tasks an orchestration waits for (`lease.workflow`) may commit without waiting
        for the disk: lost in a power failure, the task runs again and its orchestration, which has
        not durably seen the first outcome, sees the second. Every other outcome is durable.
        A store that runs orchestrations leases the decisions these outcomes call for to the
        `handoff` worker when it takes them (a store without orchestrations ignores it).
        """
        ...

    async def set_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Record a running task's progress; False when the lease is no longer held."""
        ...

    async def release(self, leases: Sequence[LeaseRef]) -> int:
        """Give leased tasks back unstarted (shutdown): pending again, the attempt not counted."""
        ...

    async def reap_expired(self, namespace: str, limit: int) -> int:
        """Apply `core.lease.after_lease_expired` to running tasks whose lease ran out; return how many."""
        ...

    async def get(self, namespace: str, task_id: str) -> TaskInfo | None:
        """One task, or None."""
        ...

    async def list(self, namespace: str, query: TaskQuery) -> list[TaskInfo]:
        """Tasks matching `query`, newest first."""
        ...

    async def cancel(self, namespace: str, task_id: str) -> TaskInfo:
        """Cancel a pending task at once, or ask a running one to stop; terminal tasks are left as they are."""
        ...

    async def redrive(self, namespace: str, task_id: str) -> TaskInfo:
        """Send a failed or cancelled task back to pending with its attempts reset."""
        ...

    async def renew_sessions(self, namespace: str, worker_id: str, lease_seconds: float) -> None:
        """Keep the sessions this worker owns for another `lease_seconds` (its heartbeat)."""
        ...

    async def drop_sessions(self, namespace: str, worker_id: str) -> None:
        """Give up this worker's sessions (at shutdown), so others take them over at once."""
        ...

    def change_token(self, kind: str) -> int:
        """A counter that grows when the store changed in a way of `kind` (see `changes`: WORK, TASKS,
        INSTANCES); pass it to `wait_for_change`."""
        ...

    async def wait_for_change(self, since: int, timeout: float, kind: str) -> int:
        """Wait until the store changed in a way of `kind` after `since` (or `timeout` seconds); return
        the new token. A store that cannot tell kinds apart wakes every waiter on any change."""
        ...
