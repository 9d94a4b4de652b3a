"""`WorkflowRun` and `WorkflowExecutor`: the seed's view of one claimed attempt, built from treadle's `TaskContext`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ...engine.context import TaskContext
from ...errors import TaskValidationError


def payload_of(ctx: TaskContext) -> dict[str, Any]:
    """The intent's JSON object: the task's keyword input.

    An intent is one JSON object, which treadle stores as keyword arguments. A task submitted
    with positional arguments (e.g. `client.submit_task("notify.email.v1", ["a@b.c"])`) has no
    such object; guessing one would hand the executor data it never asked for, so the attempt
    fails at once, without retries, saying how to submit it.
    """
    if ctx.args:
        raise TaskValidationError(
            f"workflow {ctx.name} takes a JSON object payload, but task {ctx.task_id} was submitted with "
            f"positional arguments {ctx.args!r}; submit a dict, e.g. IntentClient.submit(type, {{...}})",
            error_code="INVALID_ARGUMENTS")
    return dict(ctx.kwargs)


@dataclass(slots=True, kw_only=True)
class WorkflowRun:
    """One claimed attempt of an intent, as an executor sees it (the seed's fields and calls).

    `attempt` counts from 0 as in the seed (treadle's `TaskContext.attempt` counts from 1).
    Built by the poller from the running task's context; executors can also be unit-tested
    with a hand-made run (`WorkflowRun(id="r1", type="notify.email.v1", payload={...})`),
    whose `heartbeat` does nothing and which is never cancelled.
    """

    id: str
    type: str
    payload: dict[str, Any]
    attempt: int = 0
    max_attempts: int = 3
    context: TaskContext | None = field(default=None, repr=False)

    @classmethod
    def from_context(cls, ctx: TaskContext) -> WorkflowRun:
        """The run for the attempt `ctx` describes."""
        return cls(id=ctx.task_id, type=ctx.name, payload=payload_of(ctx), attempt=ctx.attempt - 1,
                   max_attempts=ctx.max_attempts, context=ctx)

    def heartbeat(self, duration_seconds: float = 30) -> None:
        """Extend the lease to at least `duration_seconds` from now, before a step longer than the lease.

        The poller already renews the lease while the run is alive; this is for one step that
        may block longer than `lease_duration`.
        """
        if self.context is not None:
            self.context.heartbeat(duration_seconds)

    def is_cancelled(self) -> bool:
        """True once the intent was cancelled (or this worker lost its lease): stop, the result will not count."""
        return self.context is not None and self.context.is_cancelled()


class WorkflowExecutor(ABC):
    """What runs one workflow type: subclass it and implement `execute`, then `register_executor` it.

    `execute` runs in a worker thread; it returns a JSON-serialisable result or raises to fail
    the attempt (the intent is retried on the README's schedule). One instance may serve
    several types (`run.type` tells them apart).
    """

    @abstractmethod
    def execute(self, run: WorkflowRun) -> Any:
        """Do the work of `run` and return its result."""
