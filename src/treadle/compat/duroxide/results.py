"""The shapes duroxide's client returns, filled from treadle's records.

duroxide names statuses `Running`, `Completed` and `Failed` (an unknown instance is `NotFound`);
a treadle instance that was terminated (`cancel_instance`) reads as `Failed`, as a cancelled
duroxide instance does, with the error `Terminated: <reason>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...core.records import InstanceInfo as TreadleInstance
from ...workflow import history as h

__all__ = [
    "DeleteInstanceResult",
    "Event",
    "InstanceInfo",
    "InstanceTree",
    "MetricsSnapshot",
    "OrchestrationResult",
    "PruneOptions",
    "PruneResult",
    "QueueDepths",
    "SystemMetrics",
]

STATUS_NAMES = {"running": "Running", "completed": "Completed", "failed": "Failed", "terminated": "Failed"}
TREADLE_STATUSES = {"Running": ("running",), "Completed": ("completed",), "Failed": ("failed", "terminated")}

# duroxide calls an execution an orchestration, and names inbox events by where they came from
EVENT_KINDS = {
    h.EXECUTION_STARTED: "OrchestrationStarted",
    h.EXECUTION_COMPLETED: "OrchestrationCompleted",
    h.EXECUTION_FAILED: "OrchestrationFailed",
    h.EXECUTION_CONTINUED_AS_NEW: "OrchestrationContinuedAsNew",
    h.EXECUTION_TERMINATED: "OrchestrationCancelRequested",
    h.EVENT_RAISED: "ExternalEvent",
    h.EVENT_QUEUED: "QueueEventDelivered",
}


def error_text(error: dict[str, Any] | None) -> str | None:
    """duroxide reports an error as one line of text."""
    if error is None:
        return None
    return f"{error.get('error_type', 'Error')}: {error.get('message', '')}"


def status_text(value: Any) -> str | None:
    """duroxide's custom status is a string: other JSON values are shown as their JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class OrchestrationResult:
    """An instance's state as a duroxide client sees it; `output` is the decoded JSON value."""

    status: str
    output: Any = None
    error: str | None = None
    custom_status: str | None = None
    custom_status_version: int = 0

    @classmethod
    def of(cls, info: TreadleInstance) -> OrchestrationResult:
        """The duroxide view of a treadle instance."""
        return cls(status=STATUS_NAMES.get(info.status, info.status), output=info.output,
                   error=error_text(info.error), custom_status=status_text(info.custom_status),
                   custom_status_version=info.custom_status_version)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One instance for the admin API: times in Unix milliseconds, `output` as JSON text."""

    instance_id: str
    orchestration_name: str
    orchestration_version: str
    current_execution_id: int
    status: str
    output: str | None
    created_at: int
    updated_at: int
    parent_instance_id: str | None

    @classmethod
    def of(cls, info: TreadleInstance) -> InstanceInfo:
        """The admin view of a treadle instance (treadle versions by name, so the version is empty)."""
        return cls(instance_id=info.instance_id, orchestration_name=info.name, orchestration_version="",
                   current_execution_id=info.execution, status=STATUS_NAMES.get(info.status, info.status),
                   output=None if info.status != "completed" else json.dumps(info.output),
                   created_at=int(info.created_at * 1000), updated_at=int(info.updated_at * 1000),
                   parent_instance_id=info.parent_instance_id)


@dataclass(frozen=True, slots=True)
class Event:
    """One history event: `kind` in duroxide's words, `data` the event's content as JSON text."""

    event_id: int
    kind: str
    data: str

    @classmethod
    def of(cls, position: int, event: h.HistoryEvent) -> Event:
        """The duroxide view of the `position`-th (from 1) event of an execution."""
        return cls(event_id=position, kind=EVENT_KINDS.get(event.kind, event.kind), data=json.dumps(event.data))


@dataclass(frozen=True, slots=True)
class InstanceTree:
    """An instance and all its sub-orchestrations, root first."""

    root_id: str
    all_ids: list[str]

    @property
    def size(self) -> int:
        """How many instances the tree holds."""
        return len(self.all_ids)


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    """Instances by status (terminated ones count as failed, as duroxide counts cancelled ones)."""

    total_instances: int
    running_instances: int
    completed_instances: int
    failed_instances: int


@dataclass(frozen=True, slots=True)
class QueueDepths:
    """Work waiting to be claimed: orchestration decisions, activities, and timers."""

    orchestrator_queue: int
    worker_queue: int
    timer_queue: int


@dataclass(frozen=True, slots=True)
class DeleteInstanceResult:
    """What a delete removed: the instance and its sub-orchestrations."""

    instances_deleted: int


@dataclass(frozen=True, slots=True)
class PruneOptions:
    """What `prune_executions` keeps: the last `keep_last` executions (default: only the current one).

    `completed_before` is duroxide's age filter; treadle prunes by count only, so giving it is refused.
    """

    keep_last: int | None = None
    completed_before: int | None = None


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune removed."""

    instances_processed: int
    executions_deleted: int
    events_deleted: int


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """A runtime's counters in duroxide's names; `counters` has every treadle counter by its own name."""

    orch_completions: int
    orch_failures: int
    orch_continue_as_new: int
    activity_success: int
    activity_app_errors: int
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, counters: dict[str, int]) -> MetricsSnapshot:
        """Read the duroxide counters out of treadle's `Runtime.metrics_snapshot()`."""
        return cls(orch_completions=counters.get("orchestrations_completed", 0),
                   orch_failures=counters.get("orchestrations_failed", 0),
                   orch_continue_as_new=counters.get("orchestrations_continued_as_new", 0),
                   activity_success=counters.get("tasks_succeeded", 0),
                   activity_app_errors=counters.get("tasks_failed", 0) + counters.get("tasks_retried", 0),
                   counters=dict(counters))
