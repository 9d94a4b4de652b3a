"""The replay engine: history in, decision out. Pure: no I/O, no clock, no storage.

`replay(history, orchestration, input, now=...)` re-runs the orchestration generator against its
recorded history, checks that the code schedules exactly what the history says it scheduled
(else the decision fails with a `NondeterminismError` naming the step), and returns what to do
next. It never raises for the orchestration's own failures: failures are data.

Events are applied in history order. A completion resolves the future of its command; when the
future the generator is waiting on resolves, the generator resumes and may schedule more. So a
race is won by whichever completion the history recorded first, on every replay.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Generator
from typing import Any

from ..core import serde
from ..errors import NondeterminismError, OrchestrationFailure, SerializationError
from . import commands as c
from . import history as h
from .context import (
    CommandFuture,
    ContinueAsNew,
    DurableFuture,
    InboxFuture,
    OrchestrationContext,
    RaceFuture,
)

__all__ = ["NondeterminismError", "replay"]

Orchestration = Callable[[OrchestrationContext, Any], Any]


def _describe(event: h.HistoryEvent | None) -> str:
    if event is None:
        return "nothing"
    data = {k: v for k, v in event.data.items() if k not in ("seq", "fire_at")}
    return f"{event.kind} {data}"


def _error_dict(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, OrchestrationFailure):
        return dict(exc.error)
    info: dict[str, Any] = {"message": str(exc) or type(exc).__name__, "error_type": type(exc).__name__,
                            "traceback": "".join(traceback.format_exception(exc))}
    if isinstance(exc, NondeterminismError):
        info |= {"error_code": "NONDETERMINISM", "details": {"step": exc.step}}
    return info


class _Finished(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Engine:
    """One replay of one execution."""

    def __init__(self, events: list[h.HistoryEvent], *, now: float, instance_id: str, name: str,
                 execution: int, history_length: int | None = None) -> None:
        self.events = events
        self.decision_now = now
        self.instance_id = instance_id
        self.execution = execution
        self.ctx = OrchestrationContext(self, instance_id=instance_id, name=name, execution=execution)
        self.recorded = [e for e in events if e.kind in h.SCHEDULED_KINDS]
        # Everything up to the end of the stored history was already handled by earlier decisions;
        # without that length (hand-made histories) the last decided event marks the boundary.
        decided = [i for i, e in enumerate(events) if e.kind in h.SCHEDULED_KINDS or e.kind == h.ORCHESTRATOR_STARTED]
        self.last_decided = history_length - 1 if history_length is not None else max(decided, default=-1)
        self.position = -1
        self.replaying = any(i <= self.last_decided for i in decided)
        # The code before the first yield ran in the first decision: replay it with that decision's time.
        first = next((e for e in events if e.kind == h.ORCHESTRATOR_STARTED), None)
        self.now = float(first.data["now"]) if self.replaying and first is not None else now
        self.created: list[c.Command] = []
        self.futures: dict[int, CommandFuture] = {}
        self.inboxes: dict[tuple[str, str], list[tuple[Any, int]]] = {}
        self.waiters: dict[tuple[str, str], list[InboxFuture]] = {}
        self.races: list[RaceFuture] = []
        self.custom_status: Any = None
        self.custom_status_set = False
        self.waiting: DurableFuture | None = None
        self.gen: Generator[Any, Any, Any] | None = None
        self.result: _Finished | ContinueAsNew | None = None

    # ----------------------------------------------------------- called by the context

    def _next_seq(self) -> int:
        return len(self.created)

    def _check(self, command: c.Command) -> None:
        """A command the code just created must match the history's next recorded one, if any."""
        seq = command.seq
        if seq < len(self.recorded):
            expected = self.recorded[seq]
            actual = command.event()
            if expected.kind != actual.kind or c.comparable(expected) != c.comparable(actual):
                raise NondeterminismError(self.instance_id, seq, _describe(expected), _describe(actual))

    def schedule(self, kind: type, **fields: Any) -> CommandFuture:
        if "input" in fields:   # compared with history, which holds JSON: (1, 2) and [1, 2] are the same
            fields["input"] = serde.to_jsonable(fields["input"], what="an activity or orchestration input")
        command = kind(seq=self._next_seq(), **fields)
        self._check(command)
        self.created.append(command)
        future = CommandFuture(command.seq, f"{command.event().kind} {fields.get('name', '')}".strip())
        self.futures[command.seq] = future
        return future

    def schedule_sub(self, name: str, input: Any, instance_id: str | None) -> CommandFuture:
        # the default id is unique per execution, so a child of a continued execution is a new child
        seq = self._next_seq()
        default = f"{self.instance_id}:{seq}" if self.execution == 1 else f"{self.instance_id}:e{self.execution}:{seq}"
        return self.schedule(c.ScheduleSubOrchestration, name=name, input=input, instance_id=instance_id or default)

    def patched(self, change_id: str) -> bool:
        seq = self._next_seq()
        if seq < len(self.recorded):
            expected = self.recorded[seq]
            if expected.kind == h.PATCH_MARKER and expected.data.get("change_id") == change_id:
                self.created.append(c.RecordPatch(seq=seq, change_id=change_id))
                return True
            return False                      # history from before the patch: keep the old path
        if self.replaying:
            return False                      # code that ran before the patch existed
        self.created.append(c.RecordPatch(seq=seq, change_id=change_id))
        return True

    def inbox(self, source: str, name: str) -> InboxFuture:
        future = InboxFuture(source, name)
        key = (source, name)
        waiting = self.waiters.setdefault(key, [])
        waiting.append(future)
        self._deliver(key)
        return future

    def _deliver(self, key: tuple[str, str]) -> None:
        messages, waiting = self.inboxes.get(key, []), self.waiters.get(key, [])
        while messages and waiting:
            data, position = messages.pop(0)
            waiting.pop(0)._resolve(data, None, position)

    # ----------------------------------------------------------- driving the generator

    def start(self, fn: Orchestration, input: Any) -> None:
        produced = fn(self.ctx, input)
        if not inspect.isgenerator(produced):
            raise _Finished(produced)        # a plain function: its return value is the output
        self.gen = produced
        self._advance(None, None)

    def _advance(self, value: Any, error: BaseException | None) -> None:
        assert self.gen is not None
        while True:
            try:
                yielded = self.gen.throw(error) if error is not None else self.gen.send(value)
            except StopIteration as stop:
                raise _Finished(stop.value) from None
            if isinstance(yielded, ContinueAsNew):
                self.result = yielded
                return
            if not isinstance(yielded, DurableFuture):
                raise TypeError(f"an orchestration must yield what ctx returns, not {yielded!r}")
            if not yielded.done:
                self.waiting = yielded
                return
            value, error = yielded.value, yielded.error

    def apply(self, index: int, event: h.HistoryEvent) -> None:
        """Apply one history event; resume the generator if what it waits for resolved."""
        self.position = index
        if index > self.last_decided and self.replaying:
            self.replaying = False
            self.now = self.decision_now
        kind = event.kind
        if kind == h.ORCHESTRATOR_STARTED and self.replaying:
            self.now = float(event.data["now"])
        elif kind in h.SCHEDULED_KINDS:
            seq = event.seq or 0
            if seq >= len(self.created):
                raise NondeterminismError(self.instance_id, seq, _describe(event), "nothing (not scheduled)")
        elif kind in h.COMPLETION_KINDS:
            self._complete(index, event)
        elif kind in (h.EVENT_RAISED, h.EVENT_QUEUED):
            source = "event" if kind == h.EVENT_RAISED else "queue"
            key = (source, str(event.data.get("name")))
            self.inboxes.setdefault(key, []).append((event.data.get("data"), index))
            self._deliver(key)
        self._resume_if_ready()

    def _complete(self, index: int, event: h.HistoryEvent) -> None:
        future = self.futures.get(event.seq if event.seq is not None else -1)
        if future is None:
            raise NondeterminismError(self.instance_id, event.seq or 0, _describe(event), "no such step")
        if event.kind in (h.ACTIVITY_FAILED, h.SUB_ORCHESTRATION_FAILED):
            future._resolve(None, OrchestrationFailure(future.what, dict(event.data.get("error") or {})), index)
        else:
            future._resolve(event.data.get("result"), None, index)

    def _resume_if_ready(self) -> None:
        self._release_race_losers()
        while self.waiting is not None and self.waiting.done and self.result is None:
            done, self.waiting = self.waiting, None
            self._advance(done.value, done.error)
            self._release_race_losers()

    def _release_race_losers(self) -> None:
        """A wait that lost a race gives up its place, and a message it took goes back, first in line."""
        for race in self.races:
            if not race.done or race.released:
                continue
            race.released = True
            for child in race.children:
                if not isinstance(child, InboxFuture) or child.position == race.position:
                    continue
                key = (child.source, child.name)
                if child.done:
                    self.inboxes.setdefault(key, []).insert(0, (child.value, child.position))
                    child.done = False
                elif child in self.waiters.get(key, []):
                    self.waiters[key].remove(child)
                self._deliver(key)

    def leftovers(self) -> list[h.HistoryEvent]:
        """Events and queue messages that arrived but were never waited for: kept for the next execution."""
        kinds = {"event": h.EVENT_RAISED, "queue": h.EVENT_QUEUED}
        return [h.HistoryEvent(kinds[source], {"name": name, "data": data})
                for (source, name), messages in self.inboxes.items() for data, _ in messages]

    def cancels(self) -> list[c.CancelActivity]:
        """Activities that lost a race and have not finished: ask them to stop."""
        out = []
        for race in self.races:
            if race.done:
                for child in race.children:
                    if isinstance(child, CommandFuture) and not child.done and child.seq < len(self.created) \
                            and isinstance(self.created[child.seq], c.ScheduleActivity):
                        out.append(c.CancelActivity(seq=child.seq))
        return out


def _new_work(engine: Engine) -> tuple[list[h.HistoryEvent], list[c.Command]]:
    fresh = engine.created[len(engine.recorded):]
    events = [cmd.event() for cmd in fresh]
    return events, [cmd for cmd in fresh if not isinstance(cmd, c.RecordPatch)]


def _decision_events(engine: Engine, extra: list[h.HistoryEvent]) -> list[h.HistoryEvent]:
    return [h.HistoryEvent(h.ORCHESTRATOR_STARTED, {"now": engine.decision_now}), *extra]


def replay(events: list[h.HistoryEvent], fn: Orchestration, *, now: float, instance_id: str = "",
           name: str = "", execution: int = 1, history_length: int | None = None) -> c.Decision:
    """Replay `events` (starting with ExecutionStarted) against `fn`; decide what comes next.

    `history_length`: how many of `events` are stored history (the rest are new inputs); code run
    for those is replayed (silent logs, recorded time), code run for the rest is new.
    """
    input = events[0].data.get("input") if events else None
    engine = Engine(events, now=now, instance_id=instance_id, name=name, execution=execution,
                    history_length=history_length)
    try:
        engine.start(fn, input)
        for index, event in enumerate(events[1:], start=1):
            if event.kind in h.TERMINAL_KINDS:
                break
            engine.apply(index, event)
        engine.replaying, engine.now = False, engine.decision_now
        if len(engine.created) < len(engine.recorded):
            missing = engine.recorded[len(engine.created)]
            raise NondeterminismError(instance_id, missing.seq or 0, _describe(missing), "nothing (not scheduled)")
    except _Finished as finished:
        if len(engine.created) < len(engine.recorded):      # the code ended before doing what history says
            missing = engine.recorded[len(engine.created)]
            exc = NondeterminismError(instance_id, missing.seq or 0, _describe(missing), "nothing (it returned)")
            return _finish(engine, "failed", error=_error_dict(exc), schedule=False)
        try:
            output = serde.to_jsonable(finished.value, what="the orchestration's output")
        except SerializationError as exc:
            return _finish(engine, "failed", error=_error_dict(exc))
        return _finish(engine, "completed", output=output)
    except NondeterminismError as exc:
        return _finish(engine, "failed", error=_error_dict(exc), schedule=False)
    except Exception as exc:
        return _finish(engine, "failed", error=_error_dict(exc))
    if isinstance(engine.result, ContinueAsNew):
        return _finish(engine, "continued_as_new", continue_input=engine.result.input)
    events_out, commands = _new_work(engine)
    return c.Decision(status="running", new_events=_decision_events(engine, events_out), commands=commands,
                      cancels=engine.cancels(), custom_status=engine.custom_status,
                      custom_status_set=engine.custom_status_set)


def _finish(engine: Engine, status: str, *, output: Any = None, error: dict[str, Any] | None = None,
            continue_input: Any = None, schedule: bool = True) -> c.Decision:
    """A decision that ends the execution (commands scheduled on the way out are still recorded)."""
    events_out, commands = _new_work(engine) if schedule else ([], [])
    carry = engine.leftovers() if status == "continued_as_new" else []
    terminal = {
        "completed": h.HistoryEvent(h.EXECUTION_COMPLETED, {"result": output}),
        "failed": h.HistoryEvent(h.EXECUTION_FAILED, {"error": error}),
        "continued_as_new": h.HistoryEvent(h.EXECUTION_CONTINUED_AS_NEW, {"input": continue_input}),
    }[status]
    return c.Decision(status=status, new_events=_decision_events(engine, [*events_out, terminal]), commands=commands,
                      cancels=engine.cancels(), output=output, error=error, continue_input=continue_input,
                      custom_status=engine.custom_status, custom_status_set=engine.custom_status_set,
                      carry_over=carry)
