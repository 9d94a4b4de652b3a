"""The attempts of one local run: the same retry policy, timeouts and task context as a queued task.

Every runner ends up here, in whatever thread or process it gave the run: the policy decides
what follows each failure (`core.retry.decide`, as for queued tasks), and the attempts are
logged on the `treadle.local` logger. Nothing here touches storage.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.attempt import cancelled_error
from ..core.records import ErrorInfo, Progress
from ..core.retry import decide
from ..core.task import TaskDefinition
from ..engine.context import Reporter, TaskContext, bind_context, unbind_context
from ..errors import TaskTimeoutError

logger = logging.getLogger("treadle.local")
NAMESPACE = "local"


@dataclass(slots=True)
class LocalOutcome:
    """How a local run ended: its value, or its error (the exception itself when it could be kept)."""

    attempts: int
    value: Any = None
    error: ErrorInfo | None = None
    exception: BaseException | None = None
    cancelled: bool = False

    @property
    def succeeded(self) -> bool:
        """True when the last attempt returned."""
        return self.error is None


def _already_validated(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    return args, kwargs


def for_shipping(definition: TaskDefinition) -> TaskDefinition:
    """The definition sent to another process: arguments were validated when the run started, and
    the validator (a generated Pydantic model) need not travel."""
    return replace(definition, validate=_already_validated, runner=None)


def crashed(exc: BaseException) -> LocalOutcome:
    """The outcome of a run whose machinery (not the task) broke, so the caller still gets an error."""
    return LocalOutcome(attempts=0, error=ErrorInfo.from_exception(exc), exception=exc)


@dataclass(slots=True)
class RunControl:
    """What the caller's side shares with the attempts: a stop flag and the latest progress."""

    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[Progress], None] | None = None
    current: TaskContext | None = None

    def request_stop(self) -> None:
        """Stop retrying, and tell the running attempt through `is_cancelled()`."""
        self.stop.set()
        if self.current is not None:
            self.current.cancel()


def _context(definition: TaskDefinition, run_id: str, attempt: int, args: list[Any], kwargs: dict[str, Any],
             control: RunControl) -> TaskContext:
    def progress(_ctx: TaskContext, value: Progress) -> None:
        if control.on_progress is not None:
            control.on_progress(Progress(percent=value.percent, message=value.message, data=value.data,
                                         at=time.time()))

    ctx = TaskContext(task_id=run_id, name=definition.name, namespace=NAMESPACE, attempt=attempt,
                      max_attempts=definition.retry.max_attempts, args=args, kwargs=kwargs, metadata={},
                      timeout_seconds=definition.timeout_seconds, worker_id="local",
                      reporter=Reporter(heartbeat=lambda _ctx, _seconds: None, progress=progress))
    if control.stop.is_set():
        ctx.cancel()
    control.current = ctx
    return ctx


def _call(definition: TaskDefinition, ctx: TaskContext, args: list[Any], kwargs: dict[str, Any]) -> Any:
    token = bind_context(ctx)
    try:
        value = definition.call(*args, **kwargs)
        if asyncio.iscoroutine(value):
            value = asyncio.run(_bounded(value, definition.timeout_seconds))
        return value
    finally:
        unbind_context(token)


async def _bounded(awaitable: Awaitable[Any], timeout: float | None) -> Any:
    """Await with the attempt's timeout; a TimeoutError the task raised itself stays its own."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if timeout is not None and deadline.expired():
            raise _timeout_error(timeout) from None
        raise


async def _in_own_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a sync attempt in a thread of its own (a shared pool would queue the eleventh sleeper)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    def target() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=target, name="treadle-local-sync", daemon=True).start()
    return await future


def _timeout_error(seconds: float) -> TaskTimeoutError:
    return TaskTimeoutError(f"the attempt ran longer than its timeout of {seconds:g}s")


def _call_in_thread(definition: TaskDefinition, ctx: TaskContext, args: list[Any], kwargs: dict[str, Any],
                    timeout: float) -> Any:
    """Run the attempt in a thread of its own and stop waiting for it at the timeout.

    A thread cannot be killed: it is told through `is_cancelled()` and its result is ignored,
    as in a queued worker's thread pool; the process runner enforces hard limits.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _call(definition, ctx, args, kwargs)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"treadle-local-{ctx.task_id}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        ctx.cancel()
        raise _timeout_error(timeout)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _call_with_alarm(definition: TaskDefinition, ctx: TaskContext, args: list[Any], kwargs: dict[str, Any],
                     timeout: float) -> Any:
    """Interrupt the attempt at its timeout with SIGALRM (the main thread of a process of the run's own)."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise _timeout_error(timeout)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return _call(definition, ctx, args, kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_attempts(definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any],
                 control: RunControl, *, own_process: bool = False) -> LocalOutcome:
    """Attempt the task until it succeeds, the policy gives up, or the run is stopped."""
    attempt = 0
    started = time.monotonic()
    while True:
        attempt += 1
        ctx = _context(definition, run_id, attempt, args, kwargs, control)
        try:
            timeout = definition.timeout_seconds
            if timeout is None or definition.is_async:      # a coroutine is bounded by asyncio.wait_for
                value = _call(definition, ctx, args, kwargs)
            elif own_process and threading.current_thread() is threading.main_thread():
                value = _call_with_alarm(definition, ctx, args, kwargs, timeout)
            else:
                value = _call_in_thread(definition, ctx, args, kwargs, timeout)
        except Exception as exc:
            verdict = _judge(definition, run_id, attempt, exc, control)
            if isinstance(verdict, LocalOutcome):
                return verdict
            if control.stop.wait(verdict):
                return stopped(definition.name, run_id, attempt)
            continue
        if control.stop.is_set():
            return stopped(definition.name, run_id, attempt)
        logger.info("task %s (%s) finished in %.3fs after %d attempt(s)", definition.name, run_id,
                    time.monotonic() - started, attempt)
        return LocalOutcome(attempts=attempt, value=value)


def _judge(definition: TaskDefinition, run_id: str, attempt: int, exc: BaseException,
           control: RunControl) -> LocalOutcome | float:
    """The run's outcome after a failed attempt, or the delay before the next attempt."""
    if control.stop.is_set():
        return stopped(definition.name, run_id, attempt)
    error = ErrorInfo.from_exception(exc, attempt=attempt, at=time.time())
    decision = decide(definition.retry, attempt, error)
    if not decision.retry:
        logger.error("task %s (%s) failed after %d attempt(s): %s (%s)", definition.name, run_id, attempt, error,
                     decision.reason)
        return LocalOutcome(attempts=attempt, error=error, exception=exc)
    logger.warning("task %s (%s) attempt %d/%d failed: %s; retrying in %.3gs", definition.name, run_id, attempt,
                   definition.retry.max_attempts, error, decision.delay)
    return decision.delay


def stopped(name: str, run_id: str, attempt: int) -> LocalOutcome:
    """The outcome of a run stopped on request."""
    logger.info("task %s (%s) stopped on request", name, run_id)
    error = cancelled_error("stopped on request", attempt, time.time())
    return LocalOutcome(attempts=attempt, error=error, exception=error.to_exception(), cancelled=True)


async def run_attempts_async(definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any],
                             control: RunControl) -> LocalOutcome:
    """`run_attempts` on an event loop: coroutines are awaited (and cancelled at their timeout),
    sync functions run in a thread."""
    attempt = 0
    started = time.monotonic()
    while True:
        attempt += 1
        ctx = _context(definition, run_id, attempt, args, kwargs, control)
        token = bind_context(ctx)
        try:
            if definition.is_async:
                value = await _bounded(definition.call(*args, **kwargs), definition.timeout_seconds)
            else:
                value = await _bounded(_in_own_thread(_call, definition, ctx, args, kwargs),
                                       definition.timeout_seconds)
        except asyncio.CancelledError:
            return stopped(definition.name, run_id, attempt)
        except Exception as exc:
            verdict = _judge(definition, run_id, attempt, exc, control)
            if isinstance(verdict, LocalOutcome):
                return verdict
            try:
                await asyncio.sleep(verdict)
            except asyncio.CancelledError:
                return stopped(definition.name, run_id, attempt)
            continue
        finally:
            unbind_context(token)
        logger.info("task %s (%s) finished in %.3fs after %d attempt(s)", definition.name, run_id,
                    time.monotonic() - started, attempt)
        return LocalOutcome(attempts=attempt, value=value)
