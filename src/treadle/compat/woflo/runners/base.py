"""woflo's runner interface, `BaseTaskRun`, over treadle's `TaskRun`."""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ....local.runners import Runner, start_on
from ....local.runs import TaskRun

if TYPE_CHECKING:
    from .. import Task

logger = logging.getLogger("treadle.local")
POLL_SECONDS = 0.05


class BaseTaskRun(abc.ABC):
    """woflo's interface for runners: constructed with `(task, instance_name, fn, args, kwargs)`, it
    starts running at once. `fn(*args, **kwargs)` runs every attempt (treadle's retry policy
    and timeout) and returns `(succeeded, value_or_exception)`; a custom runner calls it
    wherever it likes and implements `get_result` and `is_running` (and `stop` if it can)."""

    task: Task
    instance_name: str
    fn: Callable[..., tuple[bool, Any]]

    def __init__(self, task: Task, instance_name: str, fn: Callable[..., tuple[bool, Any]], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.task = task
        self.instance_name = instance_name
        self.fn = fn

    @abc.abstractmethod
    def get_result(self, raise_exceptions: bool = False) -> Any:
        """The return value; for a failed run its exception, returned (or raised with `raise_exceptions`)."""

    @abc.abstractmethod
    def is_running(self) -> bool:
        """True while the run has not ended."""

    def wait(self) -> None:
        """Block until the run ends (by polling `is_running`; a runner that can block on its run overrides it)."""
        while self.is_running():
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop the run; a runner that cannot says so in the log."""
        if self.is_running():
            logger.warning("%s cannot stop task %s", type(self).__name__, self.instance_name)


class TreadleTaskRun(BaseTaskRun):
    """A woflo runner that is one of treadle's: the run is a treadle `TaskRun` (`.run`)."""

    run: TaskRun

    def __init__(self, task: Task, instance_name: str, fn: Callable[..., tuple[bool, Any]], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        super().__init__(task, instance_name, fn, args, kwargs)
        self.run = start_on(self.treadle_runner(), task.definition, list(args), dict(kwargs), run_id=instance_name)

    @abc.abstractmethod
    def treadle_runner(self) -> Runner:
        """The treadle runner behind this woflo runner."""

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
