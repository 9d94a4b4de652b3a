"""woflo's runner interface, `BaseTaskRun`, over treadle's `TaskRun`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ....local.runners import Runner, start_on
from ....local.runs import TaskRun

if TYPE_CHECKING:
    from .. import Task


class BaseTaskRun:
    """woflo's interface for runners: constructed with `(task, instance_name, fn, args, kwargs)`, it
    starts running at once. `fn(*args, **kwargs)` runs every attempt (treadle's retry policy
    and timeout) and returns `(succeeded, value_or_exception)`; a custom runner calls it
    wherever it likes and implements the four methods."""

    task: Task
    instance_name: str
    fn: Callable[..., tuple[bool, Any]]

    def __init__(self, task: Task, instance_name: str, fn: Callable[..., tuple[bool, Any]], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.task = task
        self.instance_name = instance_name
        self.fn = fn

    def get_result(self, raise_exceptions: bool = False) -> Any:
        """The return value; for a failed run its exception, returned (or raised with `raise_exceptions`)."""
        raise NotImplementedError

    def wait(self) -> None:
        """Block until the run ends."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the run."""
        raise NotImplementedError

    def is_running(self) -> bool:
        """True while the run has not ended."""
        raise NotImplementedError


class TreadleTaskRun(BaseTaskRun):
    """A woflo runner that is one of treadle's: the run is a treadle `TaskRun` (`.run`)."""

    run: TaskRun

    def __init__(self, task: Task, instance_name: str, fn: Callable[..., tuple[bool, Any]], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        super().__init__(task, instance_name, fn, args, kwargs)
        self.run = start_on(self.treadle_runner(), task.definition, list(args), dict(kwargs), run_id=instance_name)

    def treadle_runner(self) -> Runner:
        """The treadle runner behind this woflo runner."""
        raise NotImplementedError

    def get_result(self, raise_exceptions: bool = False) -> Any:
        """The return value; for a failed run its exception, returned (or raised with `raise_exceptions`)."""
        error = self.run.exception()
        if error is None:
            return self.run.get_result()
        if raise_exceptions:
            raise error
        return error

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run ends (`WaitTimeoutError` after `timeout` seconds, when given)."""
        self.run.wait(timeout)

    def stop(self) -> None:
        """Stop the run (see `treadle.TaskRun.stop`)."""
        self.run.stop()

    def is_running(self) -> bool:
        """True while the run has not ended."""
        return self.run.is_running()
