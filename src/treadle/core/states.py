"""Task states and the transitions between them.

```
pending ──claim──► running ──► succeeded
   ▲                  │   ├──► failed      (last attempt, or a non-retryable error)
   │                  │   └──► cancelled   (cancel requested, task stopped)
   └──retry/lease lost┘
pending ──cancel──► cancelled
failed | cancelled ──re-drive──► pending
```

A terminal state is never left except by an explicit re-drive. Backends apply these
transitions as compare-and-set updates; this module is the single statement of which ones exist.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the task will not run again without a re-drive."""
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})

TRANSITIONS: frozenset[tuple[TaskStatus, TaskStatus]] = frozenset({
    (TaskStatus.PENDING, TaskStatus.RUNNING),      # claimed under a lease
    (TaskStatus.PENDING, TaskStatus.CANCELLED),    # cancelled before it ran
    (TaskStatus.RUNNING, TaskStatus.SUCCEEDED),
    (TaskStatus.RUNNING, TaskStatus.FAILED),
    (TaskStatus.RUNNING, TaskStatus.CANCELLED),
    (TaskStatus.RUNNING, TaskStatus.PENDING),      # retry scheduled, lease lost, or released at shutdown
    (TaskStatus.FAILED, TaskStatus.PENDING),       # re-drive
    (TaskStatus.CANCELLED, TaskStatus.PENDING),    # re-drive
})


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    """Whether a task in `current` may move to `new`."""
    return (current, new) in TRANSITIONS
