"""Running one task by id on treadle's own `Worker`: what `run_invocation` and `execute` do.

Azolla's shepherd hands a worker process one task id. Here that task is leased by id
(`Storage.claim_task`), then a treadle `Worker` runs it exactly as it runs any claimed work
(argument validation, timeout, heartbeats, progress, cancel requests, the retry policy's
decision) through a view of the storage whose claims return that lease, once. The run ends when
the attempt's outcome is recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from ...core.records import ClaimBatch, ClaimedTask, Handoff, Outcome
from ...core.routing import Pattern
from ...core.states import TaskStatus
from ...core.task import TaskDefinition
from ...engine.worker import Worker, default_worker_id
from ...errors import TreadleError
from ...settings import WorkerSettings
from ...storage import Storage
from .exceptions import WorkerError


class OneTask:
    """The storage as seen by a worker allowed to run one leased task: its first claim returns that task,
    later ones nothing; every other verb goes to the storage unchanged. `done` is set when the outcome
    was recorded (or refused)."""

    def __init__(self, storage: Storage, claimed: ClaimedTask) -> None:
        self.storage = storage
        self.url = storage.url
        self.claimed = claimed
        self.done = asyncio.Event()
        self.outcome: Outcome | None = None
        self.recorded = False
        self._handed_out = False

    def __getattr__(self, verb: str) -> Any:
        return getattr(self.storage, verb)

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """The leased task on the first call with room for it; nothing afterwards."""
        if self._handed_out or limit <= 0:
            return ClaimBatch(tasks=[])
        self._handed_out = True
        return ClaimBatch(tasks=[self.claimed])

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> list[bool]:
        """Record outcomes, noting this task's."""
        recorded = await self.storage.finish(outcomes, handoff)
        for outcome, ok in zip(outcomes, recorded, strict=True):
            if outcome.lease == self.claimed.lease:
                self.outcome, self.recorded = outcome, ok
                self.done.set()
        return recorded


async def _why_not_leased(storage: Storage, namespace: str, task_id: str) -> str:
    try:
        info = await storage.get(namespace, task_id)
    except TreadleError:     # e.g. worker credentials only, which cannot read tasks
        return f"task {task_id!r} is not pending (it is unknown, running elsewhere or finished)"
    if info is None:
        return f"no task with id {task_id!r} in namespace {namespace!r}"
    if info.status is TaskStatus.PENDING:
        due = dt.datetime.fromtimestamp(info.run_after, dt.UTC).isoformat(timespec="seconds")
        return f"task {task_id!r} is pending but not due before {due}"
    return f"task {task_id!r} is {info.status.value}, not pending: there is nothing to run"


async def lease(storage: Storage, definition: TaskDefinition, task_id: str, *, namespace: str, worker_id: str,
                lease_seconds: float) -> ClaimedTask:
    """Lease task `task_id`, which must be a pending `definition` task; `WorkerError` saying why not otherwise."""
    batch = await storage.claim_task(namespace, task_id, worker_id, lease_seconds)
    if not batch.tasks:
        raise WorkerError(await _why_not_leased(storage, namespace, task_id))
    claimed = batch.tasks[0]
    if claimed.name != definition.name:
        await storage.release([claimed.lease])      # given back, the attempt not counted
        raise WorkerError(f"task {task_id!r} is a {claimed.name!r} task, not {definition.name!r}; it was left pending")
    return claimed


async def run_one(storage: Storage, definition: TaskDefinition, task_id: str, *, namespace: str,
                  worker_id: str | None = None, settings: WorkerSettings | None = None) -> Outcome:
    """Lease and run task `task_id` on an opened `storage` with a treadle `Worker`; return the recorded outcome."""
    worker_id = worker_id or default_worker_id()
    settings = settings or WorkerSettings()
    claimed = await lease(storage, definition, task_id, namespace=namespace, worker_id=worker_id,
                          lease_seconds=settings.lease_seconds)
    view = OneTask(storage, claimed)
    worker = Worker(cast(Storage, view), tasks=[definition], namespace=namespace, worker_id=worker_id,
                    concurrency=1, settings=settings)
    running = asyncio.create_task(worker.run())
    ended = asyncio.create_task(view.done.wait())
    try:
        await asyncio.wait([running, ended], return_when=asyncio.FIRST_COMPLETED)
    finally:
        ended.cancel()
        worker.stop(hurry=True)     # nothing runs once the outcome is in; if we were interrupted, give the task back
        await running
    if view.outcome is None:
        raise WorkerError(f"the worker stopped before the outcome of task {task_id!r} was recorded")
    if not view.recorded:
        raise WorkerError(f"the lease of task {task_id!r} was lost before its outcome was recorded; "
                          "it will run again")
    return view.outcome
