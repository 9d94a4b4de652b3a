"""duroxide's orchestration context over treadle's, and the small driver that keeps duroxide's result shapes.

treadle's `ctx` already has duroxide's verbs; three results differ in shape, and the driver
translates them between the orchestration's generator and treadle's replay engine:

- `yield ctx.all([...])` gives `[{"ok": value} | {"err": message}, ...]`: every task is waited
  for and a failure does not raise (treadle's own `all` raises the first failure);
- `yield ctx.race(a, b)` gives `{"index": i, "value": v}` (treadle's is a `RaceResult`);
- `yield ctx.utc_now()` and `yield ctx.new_guid()` answer at once from the decision's
  deterministic clock and ids (treadle's `ctx.now()` / `ctx.new_uuid()` are plain calls).

Everything else is treadle's, including the replay, the history and durability. treadle's own
extras (`ctx.patched(...)`, `ctx.now()`, `ctx.is_replaying`) stay reachable through the proxy.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy
from ...errors import ConfigurationError, OrchestrationFailure
from ...workflow.context import DurableFuture, RaceResult
from ...workflow.context import OrchestrationContext as TreadleContext

__all__ = ["OrchestrationContext", "adapt", "retry_policy"]

_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR, "debug": logging.DEBUG}
# duroxide's backoff presets: 100 ms doubling up to 30 s, 100 ms more per attempt up to 30 s, or 1 s flat
_BACKOFFS: dict[str, ExponentialBackoff | LinearBackoff | FixedBackoff] = {
    "exponential": ExponentialBackoff(initial=0.1, multiplier=2.0, max_delay=30.0),
    "linear": LinearBackoff(initial=0.1, increment=0.1, max_delay=30.0),
    "fixed": FixedBackoff(1.0), "none": FixedBackoff(0.0)}
_UNSUPPORTED_RETRY = ("timeout_ms", "timeoutMs", "total_timeout_ms", "totalTimeoutMs")


@dataclass(frozen=True, slots=True)
class _Join:
    """Yielded by `ctx.all`: wait for every task, collecting successes and failures alike."""

    tasks: list[DurableFuture]


@dataclass(frozen=True, slots=True)
class _Select:
    """Yielded by `ctx.race`: treadle's race, whose winner is reported as a dict."""

    race: DurableFuture


@dataclass(frozen=True, slots=True)
class _Ready:
    """Yielded by `ctx.utc_now()` / `ctx.new_guid()`: a value known at once."""

    value: Any


def retry_policy(retry: Mapping[str, Any]) -> RetryPolicy:
    """duroxide's retry dict (`max_attempts`, `backoff`) as a treadle `RetryPolicy`."""
    if not isinstance(retry, Mapping):
        raise ConfigurationError(f"a retry policy is a dict like {{'max_attempts': 3}}, got {retry!r}")
    unsupported = sorted(k for k in retry if k in _UNSUPPORTED_RETRY and retry[k] is not None)
    if unsupported:
        raise ConfigurationError(f"retry option(s) {', '.join(unsupported)} are not supported: treadle times out "
                                 "an activity by its own timeout")
    unknown = sorted(set(retry) - {"max_attempts", "maxAttempts", "backoff", "backoff_strategy", *_UNSUPPORTED_RETRY})
    if unknown:
        raise ConfigurationError(f"unknown retry option(s): {', '.join(unknown)}")
    backoff = retry.get("backoff", retry.get("backoff_strategy")) or "exponential"
    if backoff not in _BACKOFFS:
        raise ConfigurationError(f"unknown backoff {backoff!r}: use {', '.join(_BACKOFFS)}")
    return RetryPolicy(max_attempts=retry.get("max_attempts", retry.get("maxAttempts", 3)), backoff=_BACKOFFS[backoff])


def _futures(tasks: Sequence[Any], what: str) -> list[DurableFuture]:
    for task in tasks:
        if not isinstance(task, DurableFuture):
            raise TypeError(f"{what} takes what ctx schedules (activities, timers, events, sub-orchestrations), "
                            f"not {task!r}; nesting all() and race() is not supported")
    return list(tasks)


class OrchestrationContext:
    """What a duroxide orchestration sees as `ctx`: duroxide's methods on treadle's context."""

    def __init__(self, ctx: TreadleContext) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def instance_id(self) -> str:
        """The instance this code runs for."""
        return self._ctx.instance_id

    @property
    def execution_id(self) -> int:
        """The execution number: 1, then one more per continue-as-new."""
        return self._ctx.execution

    @property
    def orchestration_name(self) -> str:
        """The registered name of this orchestration."""
        return self._ctx.name

    # ------------------------------------------------------------ scheduling (yield these)

    def schedule_activity(self, name: str, input: Any = None, session_id: str | None = None) -> DurableFuture:
        """Run activity `name` with `input` (on `session_id`'s worker, if given)."""
        if session_id is not None:
            return self._ctx.schedule_activity_on_session(name, input, session_id)
        return self._ctx.schedule_activity(name, input)

    def schedule_activity_on_session(self, name: str, input: Any, session_id: str) -> DurableFuture:
        """Run activity `name` on the worker that owns `session_id`."""
        return self._ctx.schedule_activity_on_session(name, input, session_id)

    def schedule_activity_with_retry(self, name: str, input: Any, retry: Mapping[str, Any]) -> DurableFuture:
        """Run activity `name`, retried as the duroxide retry dict says."""
        return self._ctx.schedule_activity_with_retry(name, input, retry_policy(retry))

    def schedule_activity_with_retry_on_session(self, name: str, input: Any, retry: Mapping[str, Any],
                                                session_id: str) -> DurableFuture:
        """Retries and session affinity together: every attempt runs on `session_id`'s worker."""
        return self._ctx.schedule_activity_with_retry_on_session(name, input, retry_policy(retry), session_id)

    def schedule_timer(self, delay_ms: int) -> DurableFuture:
        """A durable timer of `delay_ms` milliseconds."""
        return self._ctx.schedule_timer(delay_ms)

    def wait_for_event(self, name: str) -> DurableFuture:
        """The data of the next external event `name`."""
        return self._ctx.wait_for_event(name)

    def dequeue_event(self, queue_name: str) -> DurableFuture:
        """The next message of the FIFO queue `queue_name`."""
        return self._ctx.dequeue_event(queue_name)

    def schedule_sub_orchestration(self, name: str, input: Any = None) -> DurableFuture:
        """Run orchestration `name` as a child; yields its output."""
        return self._ctx.schedule_sub_orchestration(name, input)

    def schedule_sub_orchestration_with_id(self, name: str, instance_id: str, input: Any = None) -> DurableFuture:
        """Run orchestration `name` as a child with the instance id `instance_id`."""
        return self._ctx.schedule_sub_orchestration(name, input, instance_id)

    def continue_as_new(self, input: Any = None) -> Any:
        """End this execution and start a fresh one with `input`."""
        return self._ctx.continue_as_new(input)

    def all(self, tasks: Sequence[Any]) -> _Join:
        """Wait for every task; yields `[{"ok": value} | {"err": message}, ...]` in order."""
        return _Join(_futures(tasks, "all()"))

    def race(self, *tasks: Any) -> _Select:
        """Wait for the first task to finish; yields `{"index": i, "value": v}`."""
        return _Select(self._ctx.race(*_futures(tasks, "race()")))

    def utc_now(self) -> _Ready:
        """The decision's time in Unix milliseconds, the same on every replay."""
        return _Ready(int(self._ctx.now() * 1000))

    def new_guid(self) -> _Ready:
        """A GUID that is the same on every replay of this point."""
        return _Ready(self._ctx.new_uuid())

    # ------------------------------------------------------------ fire-and-forget

    def set_custom_status(self, status: Any) -> None:
        """Publish a status string clients read with `get_status` / `wait_for_status_change`."""
        self._ctx.set_custom_status(str(status))

    def reset_custom_status(self) -> None:
        """Clear the custom status."""
        self._ctx.reset_custom_status()

    def trace_info(self, message: Any) -> None:
        """Log once (not again on replay)."""
        self._ctx.log(str(message), level=_LEVELS["info"])

    def trace_warn(self, message: Any) -> None:
        """Log a warning once."""
        self._ctx.log(str(message), level=_LEVELS["warn"])

    def trace_error(self, message: Any) -> None:
        """Log an error once."""
        self._ctx.log(str(message), level=_LEVELS["error"])

    def trace_debug(self, message: Any) -> None:
        """Log a debug line once."""
        self._ctx.log(str(message), level=_LEVELS["debug"])


Steps = Generator[Any, Any, Any]


def adapt(fn: Callable[..., Any]) -> Callable[[TreadleContext, Any], Steps]:
    """Wrap a duroxide orchestration function as a treadle one."""

    def orchestration(ctx: TreadleContext, input: Any) -> Steps:
        produced = fn(OrchestrationContext(ctx), input)
        if not inspect.isgenerator(produced):
            return produced                  # a plain function: its return value is the output
        return (yield from _drive(produced))

    orchestration.__name__ = getattr(fn, "__name__", "orchestration")
    orchestration.__qualname__ = getattr(fn, "__qualname__", orchestration.__name__)
    return orchestration


def _drive(gen: Steps) -> Steps:
    """Run the orchestration's generator, translating what it yields and what it gets back."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = yield from _await(step)
        except Exception as exc:     # what the orchestration waited for failed: it may catch it
            error = exc


def _await(step: Any) -> Steps:
    if isinstance(step, _Ready):
        return step.value
    if isinstance(step, _Join):
        results: list[dict[str, Any]] = []
        for task in step.tasks:
            try:
                results.append({"ok": (yield task)})
            except OrchestrationFailure as failure:
                results.append({"err": str(failure)})
        return results
    if isinstance(step, _Select):
        won: RaceResult = yield step.race
        return {"index": won.index, "value": won.value}
    return (yield step)
