"""Commands: the side effects a decision asks for. The runtime carries them out; replay only decides.

Each command that must be matched on replay is recorded in history as its "scheduled" event
(`ActivityScheduled`, `TimerCreated`, ...), keyed by the command's sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import history as h


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleActivity:
    """Run the task `name` with `input`; its outcome comes back as ActivityCompleted/ActivityFailed."""

    seq: int
    name: str
    input: Any
    retry_policy: dict[str, Any] | None = None
    session_id: str | None = None

    def event(self) -> h.HistoryEvent:
        """The history event that records this command."""
        data: dict[str, Any] = {"seq": self.seq, "name": self.name, "input": self.input}
        if self.retry_policy is not None:
            data["retry_policy"] = self.retry_policy
        if self.session_id is not None:
            data["session_id"] = self.session_id
        return h.HistoryEvent(h.ACTIVITY_SCHEDULED, data)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTimer:
    """Fire a TimerFired event at `fire_at` (Unix seconds)."""

    seq: int
    fire_at: float

    def event(self) -> h.HistoryEvent:
        """The history event that records this command."""
        return h.HistoryEvent(h.TIMER_CREATED, {"seq": self.seq, "fire_at": self.fire_at})


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSubOrchestration:
    """Start orchestration `name` as instance `instance_id`; its end comes back as an event."""

    seq: int
    name: str
    instance_id: str
    input: Any

    def event(self) -> h.HistoryEvent:
        """The history event that records this command."""
        return h.HistoryEvent(h.SUB_ORCHESTRATION_SCHEDULED, {"seq": self.seq, "name": self.name,
                                                              "instance_id": self.instance_id, "input": self.input})


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPatch:
    """Record that this execution took the new branch of `ctx.patched(change_id)`."""

    seq: int
    change_id: str

    def event(self) -> h.HistoryEvent:
        """The history event that records this command."""
        return h.HistoryEvent(h.PATCH_MARKER, {"seq": self.seq, "change_id": self.change_id})


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelActivity:
    """Ask a scheduled activity to stop (the loser of a race); nothing is recorded for it."""

    seq: int


Command = ScheduleActivity | CreateTimer | ScheduleSubOrchestration | RecordPatch
RecordedCommand = (ScheduleActivity, CreateTimer, ScheduleSubOrchestration, RecordPatch)


def comparable(event: h.HistoryEvent) -> dict[str, Any]:
    """The fields of a scheduled event that must be equal on replay (what the code decided)."""
    return {k: v for k, v in event.data.items() if k != "fire_at"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What one replay decided: events to append, side effects to run, and the execution's state.

    `status` is `running` (waiting for something), `completed`, `failed` or `continued_as_new`.
    """

    status: str
    new_events: list[h.HistoryEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    cancels: list[CancelActivity] = field(default_factory=list)
    output: Any = None
    error: dict[str, Any] | None = None
    continue_input: Any = None
    custom_status: Any = None
    custom_status_set: bool = False
    carry_over: list[h.HistoryEvent] = field(default_factory=list)
