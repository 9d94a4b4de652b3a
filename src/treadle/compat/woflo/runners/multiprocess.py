"""woflo's `MultiprocessTaskRun`: treadle's process runner, fork or spawn per `process_type`."""

from __future__ import annotations

from multiprocessing.context import ForkProcess, SpawnProcess
from typing import Any, ClassVar

from ....local.process import ProcessRunner
from ....local.runners import Runner
from .base import TreadleTaskRun

__all__ = ["ForkProcess", "MultiprocessTaskRun", "SpawnProcess"]


class MultiprocessTaskRun(TreadleTaskRun):
    """Each run in its own process; set `MultiprocessTaskRun.process_type = SpawnProcess` for spawn."""

    process_type: ClassVar[Any] = ForkProcess

    def treadle_runner(self) -> Runner:
        """`ProcessRunner` with the start method of `process_type`."""
        return ProcessRunner(str(self.process_type._start_method))
