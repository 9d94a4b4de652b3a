"""A worker dressed for orchestrations: decorators to register them and their activities, a
background start for scripts and tests, and a snapshot of what it has done.

Everything it runs is an ordinary worker's work; `treadle worker --tasks my_app.flows` runs
the same orchestrations and activities from the command line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..core.orchestration import Orchestration
from ..core.task import FunctionTask, task
from ..errors import ConfigurationError
from .worker import Worker


class Runtime(Worker):
    """Runs orchestrations, their activities and any other task registered with it."""

    _thread: threading.Thread | None = None

    def orchestration(self, name: str | None = None) -> Callable[[Callable[..., Any]], Orchestration]:
        """Decorator: register a generator function `(ctx, input)` as an orchestration."""

        def wrap(fn: Callable[..., Any]) -> Orchestration:
            definition = Orchestration(name if name is not None else str(getattr(fn, "__name__", "")), fn)
            self.register_orchestration(definition)
            return definition

        return wrap

    def activity(self, name: str | None = None,
                 **options: Any) -> Callable[[Callable[..., Any]], FunctionTask[Any, Any]]:
        """Decorator: register a function as an activity (a task; `@task` options accepted)."""

        def wrap(fn: Callable[..., Any]) -> FunctionTask[Any, Any]:
            definition: FunctionTask[Any, Any] = task(name=name, **options)(fn)
            self.register_task(definition)
            return definition

        return wrap

    def start(self, timeout: float = 30.0) -> None:
        """Run in a background thread (no signal handling) until `shutdown()`."""
        if self._thread is not None and self._thread.is_alive():
            raise ConfigurationError("this runtime is already running")
        self._thread = threading.Thread(target=self.run_sync, kwargs={"handle_signals": False},
                                        name="treadle-runtime", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while self._loop is None and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)      # the thread creates its loop within milliseconds of starting

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop gracefully and wait for the background thread."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def metrics_snapshot(self) -> dict[str, int]:
        """Counters since start: decisions, orchestrations ended by status, activities and tasks by outcome."""
        counters = dict(self.counters)
        if self.orchestrator is not None:
            counters.update(self.orchestrator.metrics)
        return counters
