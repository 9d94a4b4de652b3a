"""The values that cross the storage contract: submissions, task snapshots, leases, outcomes.

They are plain frozen dataclasses with JSON-ready fields, so every backend (SQLite, PostgreSQL,
the remote server) can store and return them without knowing anything about Python tasks.
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import TaskError
from .states import TaskStatus

LEASE_EXPIRED = "LeaseExpired"
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """One failed attempt, as stored: enough to decide a retry and to show the user what went wrong."""

    message: str
    error_type: str
    error_code: str | None = None
    retryable: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    traceback: str | None = None
    exception_types: tuple[str, ...] = ()
    attempt: int | None = None
    at: float | None = None

    def __str__(self) -> str:
        code = f" [{self.error_code}]" if self.error_code else ""
        return f"{self.error_type}{code}: {self.message}"

    @classmethod
    def from_exception(cls, exc: BaseException, *, attempt: int | None = None,
                       at: float | None = None) -> ErrorInfo:
        """Capture an exception raised by task code: a `TaskError` keeps its fields, others are wrapped."""
        names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__
                      if issubclass(c, BaseException) and c not in (BaseException, Exception, object))
        trace = "".join(tb.format_exception(exc))
        if isinstance(exc, TaskError):
            return cls(message=exc.message, error_type=exc.error_type, error_code=exc.error_code,
                       retryable=exc.retryable, details=dict(exc.details), traceback=trace,
                       exception_types=names, attempt=attempt, at=at)
        return cls(message=str(exc) or type(exc).__name__, error_type=type(exc).__name__, retryable=True,
                   traceback=trace, exception_types=names, attempt=attempt, at=at)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"message": self.message, "error_type": self.error_type, "error_code": self.error_code,
                "retryable": self.retryable, "details": self.details, "traceback": self.traceback,
                "exception_types": list(self.exception_types), "attempt": self.attempt, "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorInfo:
        """Rebuild from `to_dict` output (unknown keys are ignored, so old rows stay readable)."""
        return cls(message=str(data.get("message", "")), error_type=str(data.get("error_type", "Error")),
                   error_code=data.get("error_code"), retryable=bool(data.get("retryable", True)),
                   details=dict(data.get("details") or {}), traceback=data.get("traceback"),
                   exception_types=tuple(data.get("exception_types") or ()),
                   attempt=data.get("attempt"), at=data.get("at"))

    def to_exception(self) -> TaskError:
        """A `TaskError` carrying these fields, for callers who want to raise it."""
        return TaskError(self.message, error_code=self.error_code, error_type=self.error_type,
                         retryable=self.retryable, **self.details)


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """The latest progress a running task reported."""

    percent: float | None = None
    message: str | None = None
    data: Any = None
    at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"percent": self.percent, "message": self.message, "data": self.data, "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        """Rebuild from `to_dict` output."""
        return cls(percent=data.get("percent"), message=data.get("message"), data=data.get("data"),
                   at=data.get("at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTask:
    """A submission, already validated and encoded; `delay_seconds` is added to the store's clock."""

    id: str
    name: str
    namespace: str = DEFAULT_NAMESPACE
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    delay_seconds: float = 0.0
    run_at: float | None = None
    timeout_seconds: float | None = None
    retry_policy: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 1
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    wf_instance: str | None = None       # set when an orchestration waits for this task
    wf_execution: int | None = None
    wf_seq: int | None = None
    session_id: str | None = None        # runs on the worker that owns this session


@dataclass(frozen=True, slots=True)
class LeaseRef:
    """What proves a worker holds a task: the id, the attempt and the random lease token.

    `workflow` tells the store that an orchestration waits for this task's outcome.
    """

    task_id: str
    token: str
    attempt: int
    workflow: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedTask:
    """A task handed to one worker under a lease."""

    lease: LeaseRef
    namespace: str
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    max_attempts: int
    retry_policy: dict[str, Any]
    timeout_seconds: float | None
    metadata: dict[str, Any]
    priority: int
    lease_expires: float

    @property
    def id(self) -> str:
        """The task id."""
        return self.lease.task_id

    @property
    def attempt(self) -> int:
        """This attempt's number, starting at 1."""
        return self.lease.attempt


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimBatch:
    """The result of a claim: the tasks, and when the next delayed task becomes due.

    `next_due` is known when the claim took fewer tasks than it asked for (all there was).
    """

    tasks: list[ClaimedTask]
    next_due: float | None = None


@dataclass(slots=True, kw_only=True)
class Handoff:
    """Follow-up work a worker's own write may lease straight to that worker.

    When a worker finishes an activity, the orchestration decision that follows, and when it
    commits a decision, the activities that decision scheduled, are inserted already leased to it,
    if it runs them and has room: one transaction instead of an insert, a notification, a wake-up
    and a claim. The leases are ordinary (a worker that dies loses them to the sweep). Session
    activities and delayed tasks always go through the queue. The store fills `claimed`.

    A worker that can decide an orchestration also gives a `decider` (`storage.wf_steps.Decider`):
    the decision that follows an activity is then made in the activity's own transaction, with no
    decision task at all; the store lists those decisions in `decided`. A decision that ends an
    execution needs a durable commit, which a relaxed write (an activity's) is not: it is made in
    place only where the store sets `may_end`, saying it can make that one write durable.
    """

    worker_id: str
    lease_seconds: float
    names: frozenset[str]          # exact task names this worker runs
    room: int                      # how many tasks it may take now
    claimed: list[ClaimedTask] = field(default_factory=list)
    decider: Callable[[Any], Any] | None = None
    decided: list[Any] = field(default_factory=list)
    taken: int = 0                 # slots given to inserts: those leased, and those whose insert is in flight
    may_end: bool = False          # set by a store that can make the write durable: an ending may be decided in it
    unconfirmed: set[str] = field(default_factory=set)     # ids leased before the store knew their insert

    def reset(self) -> None:
        """Forget what a transaction leased or decided: it is being run again."""
        self.claimed.clear()
        self.decided.clear()
        self.unconfirmed.clear()
        self.taken = 0

    def take(self, task: NewTask) -> bool:
        """Whether `task` may be leased to this worker at birth; if so, a slot is held for it.

        The slot is held from here, not from `lease`: a store may send several such inserts before
        it learns how any of them went (see `storage.postgres.drive_all`), and room must not be
        promised twice. `lease` or `give_back` settles it.
        """
        if not (self.taken < self.room and task.name in self.names and task.session_id is None
                and task.run_at is None and not task.delay_seconds):
            return False
        self.taken += 1
        return True

    def give_back(self) -> None:
        """The insert a slot was held for did not lease a task (one with its idempotency key existed)."""
        self.taken -= 1

    def lease(self, task: NewTask, token: str, lease_expires: float, *, confirmed: bool = True) -> None:
        """Record that `task` was inserted leased to this worker, as its first attempt (its slot taken).

        `confirmed=False`: the insert was sent but its answer comes after the commit; the store
        settles it with `confirm` before the worker sees `claimed`.
        """
        if not confirmed:
            self.unconfirmed.add(task.id)
        self.claimed.append(ClaimedTask(
            lease=LeaseRef(task.id, token, 1, task.wf_instance is not None), namespace=task.namespace,
            name=task.name, args=task.args, kwargs=task.kwargs, max_attempts=task.max_attempts,
            retry_policy=task.retry_policy, timeout_seconds=task.timeout_seconds, metadata=task.metadata,
            priority=task.priority, lease_expires=float(lease_expires)))

    def confirm(self, inserted: set[str]) -> None:
        """Settle the unconfirmed leases: keep those whose task was inserted, drop the others.

        A task whose idempotency key existed already was not inserted: the worker must not run it.
        """
        dropped = self.unconfirmed - inserted
        if dropped:
            self.claimed[:] = [c for c in self.claimed if c.lease.task_id not in dropped]
            self.taken -= len(dropped)
        self.unconfirmed.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseState:
    """What a heartbeat learned about one lease."""

    alive: bool
    cancel_requested: bool = False
    lease_expires: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Succeeded:
    """A successful attempt and its JSON-encoded result."""

    lease: LeaseRef
    result_json: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """A failed attempt; `retry_delay` is None when the task fails for good."""

    lease: LeaseRef
    error: ErrorInfo
    retry_delay: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancelled:
    """An attempt that stopped because cancellation was requested."""

    lease: LeaseRef
    error: ErrorInfo | None = None


Outcome = Succeeded | Failed | Cancelled


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInfo:
    """A snapshot of one task as stored."""

    id: str
    namespace: str
    name: str
    status: TaskStatus
    args: list[Any]
    kwargs: dict[str, Any]
    priority: int
    attempts: int
    max_attempts: int
    retry_policy: dict[str, Any]
    timeout_seconds: float | None
    run_after: float
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    result: Any
    error: ErrorInfo | None
    errors: list[ErrorInfo]
    progress: Progress | None
    metadata: dict[str, Any]
    idempotency_key: str | None
    cancel_requested: bool
    worker_id: str | None
    lease_expires: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """Filters for listing tasks; every field is optional."""

    statuses: tuple[TaskStatus, ...] = ()
    name_pattern: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceInfo:
    """A snapshot of one orchestration instance."""

    instance_id: str
    namespace: str
    name: str
    status: str
    execution: int
    input: Any
    output: Any
    error: dict[str, Any] | None
    custom_status: Any
    custom_status_version: int
    parent_instance_id: str | None
    created_at: float
    updated_at: float
    finished_at: float | None

    @property
    def is_finished(self) -> bool:
        """True once the instance completed, failed or was terminated."""
        return self.status != "running"
