"""History events: what happened to one execution of an orchestration, in order.

An execution's history is append-only. Replaying it against the orchestration's code
rebuilds the execution's state. Every event is plain JSON (`kind` + `data`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kinds
EXECUTION_STARTED = "ExecutionStarted"
ORCHESTRATOR_STARTED = "OrchestratorStarted"          # a decision began; data: {"now": seconds}
ACTIVITY_SCHEDULED = "ActivityScheduled"
ACTIVITY_COMPLETED = "ActivityCompleted"
ACTIVITY_FAILED = "ActivityFailed"
TIMER_CREATED = "TimerCreated"
TIMER_FIRED = "TimerFired"
SUB_ORCHESTRATION_SCHEDULED = "SubOrchestrationScheduled"
SUB_ORCHESTRATION_COMPLETED = "SubOrchestrationCompleted"
SUB_ORCHESTRATION_FAILED = "SubOrchestrationFailed"
EVENT_RAISED = "EventRaised"
EVENT_QUEUED = "EventQueued"
PATCH_MARKER = "PatchMarker"
EXECUTION_COMPLETED = "ExecutionCompleted"
EXECUTION_FAILED = "ExecutionFailed"
EXECUTION_CONTINUED_AS_NEW = "ExecutionContinuedAsNew"
EXECUTION_TERMINATED = "ExecutionTerminated"

SCHEDULED_KINDS = frozenset({ACTIVITY_SCHEDULED, TIMER_CREATED, SUB_ORCHESTRATION_SCHEDULED, PATCH_MARKER})
COMPLETION_KINDS = frozenset({ACTIVITY_COMPLETED, ACTIVITY_FAILED, TIMER_FIRED, SUB_ORCHESTRATION_COMPLETED,
                              SUB_ORCHESTRATION_FAILED})
TERMINAL_KINDS = frozenset({EXECUTION_COMPLETED, EXECUTION_FAILED, EXECUTION_CONTINUED_AS_NEW,
                            EXECUTION_TERMINATED})


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One recorded event: its kind and its JSON data (`seq` ties completions to what they complete)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def seq(self) -> int | None:
        """The command sequence number this event belongs to, if any."""
        value = self.data.get("seq")
        return int(value) if value is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"kind": self.kind, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HistoryEvent:
        """Rebuild from `to_dict` output."""
        return cls(str(raw["kind"]), dict(raw.get("data") or {}))


def started(name: str, input: Any, *, instance_id: str, execution: int, now: float) -> HistoryEvent:
    """The first event of an execution."""
    return HistoryEvent(EXECUTION_STARTED, {"name": name, "input": input, "instance_id": instance_id,
                                            "execution": execution, "now": now})
