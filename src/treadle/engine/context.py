"""The context a running task sees: who it is, and how to report back (heartbeat, progress, cancel).

Reporting is fire-and-forget so the same calls work from async tasks, worker threads and child
processes: the request is handed to the worker, which writes it promptly (batched with
others). A lost lease or a cancel request shows up as `is_cancelled()`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..core import serde
from ..core.records import ClaimedTask, Progress
from ..errors import TreadleError

_current: ContextVar[TaskContext | None] = ContextVar("treadle_task_context", default=None)


@dataclass(slots=True)
class Reporter:
    """Where a context sends heartbeats and progress (the worker, or a pipe to it)."""

    heartbeat: Callable[[TaskContext, float | None], None]
    progress: Callable[[TaskContext, Progress], None]


@dataclass(slots=True, kw_only=True)
class TaskContext:
    """The current task attempt, as seen from inside the task (`treadle.current_context()`)."""

    task_id: str
    name: str
    namespace: str
    attempt: int
    max_attempts: int
    args: list[Any]
    kwargs: dict[str, Any]
    metadata: dict[str, Any]
    timeout_seconds: float | None
    worker_id: str
    reporter: Reporter
    cancelled: bool = False     # set once by the worker's loop, read from any thread: a flag is enough
    lease_lost: bool = False
    lease_token: str = field(default="", repr=False)

    @classmethod
    def for_claim(cls, claimed: ClaimedTask, worker_id: str, reporter: Reporter) -> TaskContext:
        """A context for one claimed attempt."""
        return cls(task_id=claimed.id, name=claimed.name, namespace=claimed.namespace, attempt=claimed.attempt,
                   max_attempts=claimed.max_attempts, args=claimed.args, kwargs=claimed.kwargs,
                   metadata=claimed.metadata, timeout_seconds=claimed.timeout_seconds, worker_id=worker_id,
                   reporter=reporter, lease_token=claimed.lease.token)

    @property
    def input(self) -> Any:
        """The task's input: its keyword arguments, or its positional ones when it has no keywords."""
        if self.kwargs or not self.args:
            return self.kwargs
        return self.args[0] if len(self.args) == 1 else self.args

    def heartbeat(self, extend_seconds: float | None = None) -> None:
        """Extend the lease to at least `extend_seconds` from now (default: the worker's lease length).

        The worker already heartbeats while the task runs; call this before a step that may
        block longer than the lease, e.g. `ctx.heartbeat(600)`.
        """
        self.reporter.heartbeat(self, extend_seconds)

    def progress(self, percent: float | None = None, message: str | None = None, data: Any = None) -> None:
        """Report progress (0-100), visible to clients while the task runs.

        `data` must be JSON-serialisable; anything else raises `SerializationError` here, in the task.
        """
        progress = Progress(percent=percent, message=message, data=serde.to_jsonable(data, what="progress data"))
        self.reporter.progress(self, progress)

    def is_cancelled(self) -> bool:
        """True once cancellation was requested or the lease was lost: stop soon, the result will not count."""
        return self.cancelled

    def cancel(self, *, lease_lost: bool = False) -> None:
        """Mark the attempt as cancelled (called by the worker)."""
        self.lease_lost = self.lease_lost or lease_lost
        self.cancelled = True


def current_context() -> TaskContext:
    """The context of the task attempt running in this thread or coroutine."""
    ctx = _current.get()
    if ctx is None:
        raise TreadleError("current_context() was called outside a running task")
    return ctx


def bind_context(ctx: TaskContext | None) -> object:
    """Make `ctx` current; returns a token for `unbind_context`."""
    return _current.set(ctx)


def unbind_context(token: object) -> None:
    """Undo `bind_context`."""
    _current.reset(token)  # type: ignore[arg-type]
