"""What orchestration code sees: `ctx`, whose methods return durable futures to `yield`.

Scheduling happens when a method is called (so `a = ctx.schedule_activity(...)` followed by
`b = ...` runs both at once); `yield` waits. The context never does I/O: it records commands
and reads outcomes from the history the replay engine feeds it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import serde
from ..errors import OrchestrationFailure
from . import commands as c

if TYPE_CHECKING:
    from .replay import Engine

_UUID_NAMESPACE = uuid.UUID("6f2c1c2e-6a53-4f38-9d0e-5b7d1e2c9a10")

__all__ = ["OrchestrationContext", "OrchestrationFailure", "RaceResult"]


@dataclass(frozen=True, slots=True)
class RaceResult:
    """The outcome of `ctx.race(...)`: which future finished first, and its value."""

    index: int
    value: Any


class DurableFuture:
    """Something an orchestration can `yield`; resolved by the replay engine from history."""

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.position = -1          # index of the history event that resolved it
        self.parents: list[DurableFuture] = []

    def _resolve(self, value: Any, error: BaseException | None, position: int) -> None:
        if self.done:
            return
        self.done, self.value, self.error, self.position = True, value, error, position
        for parent in self.parents:
            parent._child_done(self)

    def _child_done(self, child: DurableFuture) -> None:
        """Composite futures react to their children."""


class CommandFuture(DurableFuture):
    """The result of one scheduled command (activity, timer, sub-orchestration)."""

    def __init__(self, seq: int, what: str) -> None:
        super().__init__()
        self.seq = seq
        self.what = what


class InboxFuture(DurableFuture):
    """The next message of a named event or queue."""

    def __init__(self, source: str, name: str) -> None:
        super().__init__()
        self.source = source        # "event" or "queue"
        self.name = name


class AllFuture(DurableFuture):
    """Resolves with every child's value, in order; fails with the first child failure."""

    def __init__(self, children: Sequence[DurableFuture]) -> None:
        super().__init__()
        self.children = list(children)
        for child in self.children:
            child.parents.append(self)
        self._check()

    def _child_done(self, child: DurableFuture) -> None:
        self._check()

    def _check(self) -> None:
        failed = [ch for ch in self.children if ch.done and ch.error is not None]
        if failed:
            first = min(failed, key=lambda ch: ch.position)
            self._resolve(None, first.error, first.position)
        elif all(ch.done for ch in self.children):
            position = max((ch.position for ch in self.children), default=-1)
            self._resolve([ch.value for ch in self.children], None, position)


class RaceFuture(DurableFuture):
    """Resolves with the first child to finish (by history order) as a `RaceResult`."""

    def __init__(self, children: Sequence[DurableFuture]) -> None:
        super().__init__()
        if not children:
            raise ValueError("race() needs at least one future")
        self.released = False
        self.children = list(children)
        for child in self.children:
            child.parents.append(self)
        self._check()

    def _child_done(self, child: DurableFuture) -> None:
        self._check()

    def _check(self) -> None:
        finished = [(ch.position, i, ch) for i, ch in enumerate(self.children) if ch.done]
        if finished and not self.done:
            _, index, winner = min(finished)
            if winner.error is not None:
                self._resolve(None, winner.error, winner.position)
            else:
                self._resolve(RaceResult(index, winner.value), None, winner.position)


class ContinueAsNew(DurableFuture):
    """Yielded to end this execution and start a fresh one with a new input."""

    def __init__(self, input: Any) -> None:
        super().__init__()
        self.input = input


class _ReplaySafeLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that stays silent while the engine replays code that already ran."""

    def __init__(self, logger: logging.Logger, ctx: OrchestrationContext) -> None:
        super().__init__(logger, {})
        self._ctx = ctx

    def isEnabledFor(self, level: int) -> bool:
        return not self._ctx.is_replaying and self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("instance_id", self._ctx.instance_id)
        kwargs["extra"] = extra
        return msg, kwargs


class OrchestrationContext:
    """The orchestration's view of the world; every method is deterministic."""

    def __init__(self, engine: Engine, *, instance_id: str, name: str, execution: int) -> None:
        self._engine = engine
        self.instance_id = instance_id
        self.name = name
        self.execution = execution
        self._uuids = 0
        self.logger = _ReplaySafeLogger(logging.getLogger(f"treadle.orchestration.{name}"), self)

    # ----------------------------------------------------------- time, ids, logging, status

    @property
    def is_replaying(self) -> bool:
        """True while re-running code whose effects are already in the history."""
        return self._engine.replaying

    def now(self) -> float:
        """The time of the decision being made (Unix seconds): the same on every replay."""
        return self._engine.now

    def new_uuid(self) -> str:
        """A UUID that is the same on every replay of this point of the orchestration."""
        self._uuids += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.instance_id}/{self.execution}/{self._uuids}"))

    def log(self, message: str, *args: Any, level: int = logging.INFO) -> None:
        """Log once: not again when this line is replayed."""
        self.logger.log(level, message, *args)

    def set_custom_status(self, status: Any) -> None:
        """Publish a JSON value clients can read (and wait for) while the orchestration runs."""
        self._engine.custom_status = serde.to_jsonable(status, what="the custom status")
        self._engine.custom_status_set = True

    def reset_custom_status(self) -> None:
        """Clear the custom status."""
        self.set_custom_status(None)

    def patched(self, change_id: str) -> bool:
        """True on executions that reach this point with the new code; False when replaying older history.

        Guard a changed step with it: `if ctx.patched("v2-fraud-check"): ...` keeps running
        instances on the old path and sends new ones down the new path.
        """
        return self._engine.patched(change_id)

    # ----------------------------------------------------------- scheduling

    def schedule_activity(self, name: Any, input: Any = None) -> CommandFuture:
        """Run a task (name, or task object) as an activity; yield the future for its result."""
        return self._engine.schedule(c.ScheduleActivity, name=_task_name(name), input=input)

    def schedule_activity_with_retry(self, name: Any, input: Any, policy: Any) -> CommandFuture:
        """As `schedule_activity`, with a `RetryPolicy` for this call."""
        return self._engine.schedule(c.ScheduleActivity, name=_task_name(name), input=input,
                                     retry_policy=policy.to_dict())

    def schedule_activity_on_session(self, name: Any, input: Any, session_id: str) -> CommandFuture:
        """As `schedule_activity`, on the worker that owns `session_id` while it lives."""
        return self._engine.schedule(c.ScheduleActivity, name=_task_name(name), input=input,
                                     session_id=str(session_id))

    def schedule_activity_with_retry_on_session(self, name: Any, input: Any, policy: Any,
                                                session_id: str) -> CommandFuture:
        """Session affinity and a retry policy together."""
        return self._engine.schedule(c.ScheduleActivity, name=_task_name(name), input=input,
                                     retry_policy=policy.to_dict(), session_id=str(session_id))

    def schedule_timer(self, delay_ms: float) -> CommandFuture:
        """A durable timer: resolves `delay_ms` milliseconds after this decision, across restarts."""
        return self._engine.schedule(c.CreateTimer, fire_at=self._engine.now + float(delay_ms) / 1000.0)

    def schedule_sub_orchestration(self, name: str, input: Any = None,
                                   instance_id: str | None = None) -> CommandFuture:
        """Start a child orchestration; resolves with its output (raises if it failed)."""
        return self._engine.schedule_sub(name, input, instance_id)

    def wait_for_event(self, name: str) -> InboxFuture:
        """The next external event `name` (one raised before this call is kept and delivered)."""
        return self._engine.inbox("event", name)

    def dequeue_event(self, queue: str) -> InboxFuture:
        """The next message of a persistent FIFO queue (kept across continue-as-new)."""
        return self._engine.inbox("queue", queue)

    def all(self, futures: Sequence[DurableFuture]) -> AllFuture:
        """Wait for every future; resolves with their values in order."""
        return AllFuture(futures)

    def race(self, *futures: DurableFuture | Sequence[DurableFuture]) -> RaceFuture:
        """Wait for the first future to finish; the others are cancelled (activities) or ignored."""
        flat: list[DurableFuture] = []
        for f in futures:
            if isinstance(f, DurableFuture):
                flat.append(f)
            else:
                flat.extend(f)
        race = RaceFuture(flat)
        self._engine.races.append(race)
        return race

    def continue_as_new(self, input: Any = None) -> ContinueAsNew:
        """End this execution and start a fresh one (with a fresh history) with `input`."""
        return ContinueAsNew(input)


def _task_name(name: Any) -> str:
    if isinstance(name, str):
        return name
    definition = getattr(name, "definition", None)
    if definition is not None and hasattr(definition, "name"):
        return str(definition.name)
    task_name = getattr(name, "task_name", None)
    if callable(task_name):
        return str(task_name())
    raise TypeError(f"an activity is a task name or a task object, got {name!r}")
