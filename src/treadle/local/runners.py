"""Runners for local runs, and `start_local`, which starts a task on the runner it names.

A runner is anything with `start(definition, run_id, args, kwargs) -> TaskRun`; the ones
here run a task in a thread of its own, on a shared background event loop, or right away in
the caller; processes are in `local.process`, Dask in `local.dask`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from typing import Any, Protocol, runtime_checkable

from ..core.task import RUNNER_NAMES, TaskDefinition, TaskLike, definition_of
from ..errors import ConfigurationError
from ..portal import Portal
from .attempts import LocalOutcome, RunControl, crashed, run_attempts, run_attempts_async
from .dask import DaskRunner
from .process import STOP_GRACE_SECONDS, ProcessRunner
from .runs import TaskRun


@runtime_checkable
class Runner(Protocol):
    """Where local runs happen; `@task(runner=...)` takes a name or an object like this."""

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Start one run of `definition` with already validated arguments, without blocking."""
        ...


class ThreadRun(TaskRun):
    """A run in a thread of its own (not a pool: ten sleepy tasks sleep side by side)."""

    def __init__(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        super().__init__(run_id, definition.name)
        self._control = RunControl(on_progress=self._set_progress)
        self._result: LocalOutcome | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(definition, args, kwargs),
                                        name=f"treadle-{definition.name}-{run_id}")
        self._thread.start()

    def _main(self, definition: TaskDefinition, args: list[Any], kwargs: dict[str, Any]) -> None:
        try:
            self._result = run_attempts(definition, self.id, args, kwargs, self._control)
        except BaseException as exc:
            self._result = crashed(exc)
        finally:
            self._done.set()

    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        return self._result if self._done.wait(timeout) else None

    def _stop(self) -> None:
        self._control.request_stop()


class ThreadRunner:
    """Each run in a new thread: cheap to start and shares memory, but a thread cannot be killed
    (stop and timeouts are cooperative) and CPU-bound Python code does not run in parallel."""

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Start the run in a new (non-daemon) thread; the interpreter waits for it at exit."""
        return ThreadRun(definition, run_id, args, kwargs)


class SequentialRun(TaskRun):
    """A run that already ended when `start` returned."""

    def __init__(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        super().__init__(run_id, definition.name)
        self._result = run_attempts(definition, run_id, args, kwargs, RunControl(on_progress=self._set_progress))

    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        return self._result

    def _stop(self) -> None:
        """Nothing to stop: the run ended before its handle existed."""


class SequentialRunner:
    """Runs the task in the caller, blocking until it ends: for debugging, tests and ordered scripts."""

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Run every attempt now, then return the ended run."""
        return SequentialRun(definition, run_id, args, kwargs)


_LOOP = Portal("treadle-local-loop")      # one background event loop shared by every asyncio run


class AsyncioRun(TaskRun):
    """A run as a task on the shared background event loop."""

    def __init__(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        super().__init__(run_id, definition.name)
        self._loop = _LOOP.background_loop()
        self._task: asyncio.Task[Any] | None = None
        control = RunControl(on_progress=self._set_progress)
        self._future = asyncio.run_coroutine_threadsafe(self._main(definition, args, kwargs, control), self._loop)

    async def _main(self, definition: TaskDefinition, args: list[Any], kwargs: dict[str, Any],
                    control: RunControl) -> LocalOutcome:
        self._task = asyncio.current_task()
        try:
            return await run_attempts_async(definition, self.id, args, kwargs, control)
        except BaseException as exc:
            return crashed(exc)

    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        if timeout == 0 and not self._future.done():
            return None
        try:
            return self._future.result(timeout)
        except TimeoutError:
            return None

    def _stop(self) -> None:
        def cancel() -> None:
            if self._task is not None:
                self._task.cancel()

        self._loop.call_soon_threadsafe(cancel)
        concurrent.futures.wait([self._future], timeout=STOP_GRACE_SECONDS)   # it ends at its next await


class AsyncioRunner:
    """Runs on one background event loop shared by every asyncio run in the process: many
    concurrent coroutines in one thread. A sync function runs in the loop's thread pool."""

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Schedule the run on the background loop and return at once."""
        return AsyncioRun(definition, run_id, args, kwargs)


def runner_named(spec: Any) -> Runner:
    """The runner a task's `runner` option names (None means the default, processes)."""
    if spec is None or spec == "process":
        return ProcessRunner()
    if spec == "thread":
        return ThreadRunner()
    if spec == "asyncio":
        return AsyncioRunner()
    if spec == "sequential":
        return SequentialRunner()
    if spec == "dask":
        return DaskRunner()
    if isinstance(spec, Runner):
        return spec
    raise ConfigurationError(f"runner must be one of {', '.join(RUNNER_NAMES)} or a runner object, got {spec!r}")


def start_local(task: TaskLike, /, *args: Any, **kwargs: Any) -> TaskRun:
    """Start `task` in the background of this process, with no database and no server.

    The task's `runner` option picks where ("process" by default); its retry policy and
    timeout apply as when it is queued, and arguments are validated here, so bad ones raise
    `TaskValidationError` at once. Returns a `TaskRun` to wait on, read, or stop.
    """
    definition = definition_of(task)
    return start_on(runner_named(definition.runner), definition, list(args), dict(kwargs))


def start_on(runner: Runner, definition: TaskDefinition, args: list[Any], kwargs: dict[str, Any],
             run_id: str | None = None) -> TaskRun:
    """Validate the arguments, then start one run of `definition` on `runner`."""
    checked_args, checked_kwargs = definition.validate(args, kwargs)
    return runner.start(definition, run_id or uuid.uuid4().hex[:12], checked_args, checked_kwargs)
