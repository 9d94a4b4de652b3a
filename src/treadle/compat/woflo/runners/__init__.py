"""woflo's runners: `MultiprocessTaskRun` (the default), `SequentialTaskRun`, and `BaseTaskRun` for your own."""

from __future__ import annotations

from ....local.runners import Runner, SequentialRunner
from .base import BaseTaskRun, TreadleTaskRun
from .multiprocess import MultiprocessTaskRun

__all__ = ["BaseTaskRun", "MultiprocessTaskRun", "SequentialTaskRun"]


class SequentialTaskRun(TreadleTaskRun):
    """Runs in the caller, returning once the run ended."""

    def treadle_runner(self) -> Runner:
        """treadle's `SequentialRunner`."""
        return SequentialRunner()
