"""woflo's names on treadle: `@task` whose call starts a run on the task's runner and returns it.

The retries, timeouts and logging are treadle's local runs (`treadle.start_local`); this
module only keeps woflo's call shape: calling the task starts it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, overload

from ...core.task import FunctionTask, TaskDefinition, function_definition
from ...local.attempts import RunControl, for_shipping, run_attempts
from .runners import BaseTaskRun, MultiprocessTaskRun

__all__ = ["Task", "task"]


def _attempts(definition: TaskDefinition, instance_name: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """woflo's `fn` contract for custom runners: every attempt, then `(succeeded, value_or_exception)`."""
    checked_args, checked_kwargs = definition.validate(list(args), dict(kwargs))
    outcome = run_attempts(definition, instance_name, checked_args, checked_kwargs, RunControl())
    if outcome.error is None:
        return True, outcome.value
    return False, outcome.exception if outcome.exception is not None else outcome.error.to_exception()


class Task(FunctionTask[Any, Any]):
    """A woflo task: calling it starts a run on `runner` and returns the run."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, retries: int = 0,
                 retry_sleep_time: float = 0, runner: type[BaseTaskRun] = MultiprocessTaskRun) -> None:
        if not (isinstance(runner, type) and issubclass(runner, BaseTaskRun)):
            raise TypeError(f"runner must be a BaseTaskRun subclass, got {runner!r}")
        super().__init__(fn, function_definition(fn, name=name, retries=retries, retry_sleep_time=retry_sleep_time))
        self.runner = runner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        instance_name = f"{self.name}-{uuid.uuid4()}"
        fn = functools.partial(_attempts, for_shipping(self.definition), instance_name)
        return self.runner(self, instance_name, fn, args, kwargs)


@overload
def task(fn: Callable[..., Any], /) -> Task: ...


@overload
def task(*, name: str | None = None, retries: int = 0, retry_sleep_time: float = 0,
         runner: type[BaseTaskRun] = MultiprocessTaskRun) -> Callable[[Callable[..., Any]], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, retries: int = 0,
         retry_sleep_time: float = 0, runner: type[BaseTaskRun] = MultiprocessTaskRun
         ) -> Task | Callable[[Callable[..., Any]], Task]:
    """woflo's decorator: `retries` extra attempts `retry_sleep_time` seconds apart, on `runner`."""

    def wrap(f: Callable[..., Any]) -> Task:
        return Task(f, name=name, retries=retries, retry_sleep_time=retry_sleep_time, runner=runner)

    return wrap(fn) if fn is not None else wrap
