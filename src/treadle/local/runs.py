"""`TaskRun`: a handle on a task started in the background of this process, whatever runs it.

Every runner gives the same handle, so switching a task from processes to threads or to a
Dask cluster changes one decorator argument and no calling code.
"""

from __future__ import annotations

import abc
import threading
from typing import Any

from ..core.records import ErrorInfo, Progress
from ..core.states import TaskStatus
from ..errors import WaitTimeoutError
from .attempts import LocalOutcome


class TaskRun(abc.ABC):
    """One local run of a task: wait for it, read its result or error, stop it.

    `get_result()` returns the value or re-raises the task's exception (for a run that
    was stopped, a `TaskError` with `error_type` "Cancelled"); `exception()` returns it
    instead. Retries, timeouts and logging follow the task's own options, as when queued.
    """

    def __init__(self, run_id: str, name: str) -> None:
        self.id = run_id
        self.name = name
        self._outcome: LocalOutcome | None = None
        self._progress: Progress | None = None
        self._lock = threading.Lock()

    # What each runner provides.

    @abc.abstractmethod
    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        """Block until the run ended (its outcome) or `timeout` passed (None)."""

    @abc.abstractmethod
    def _stop(self) -> None:
        """Interrupt the run as far as its runner can."""

    # The handle.

    def is_running(self) -> bool:
        """True until the run has ended (succeeded, failed for good, or stopped)."""
        return self._outcome is None and self._wait_outcome(0) is None

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run ends; `WaitTimeoutError` if it is still running after `timeout` seconds."""
        self._finished(timeout)

    def get_result(self, timeout: float | None = None) -> Any:
        """The task's return value, once it ended; re-raises its exception when it failed."""
        outcome = self._finished(timeout)
        if outcome.exception is not None:
            raise outcome.exception
        if outcome.error is not None:
            raise outcome.error.to_exception()
        return outcome.value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception the run ended with (None when it succeeded), once it ended."""
        outcome = self._finished(timeout)
        if outcome.exception is not None:
            return outcome.exception
        return outcome.error.to_exception() if outcome.error is not None else None

    def stop(self) -> None:
        """Stop the run: no further attempts, and the running one interrupted where the runner can.

        A process is terminated and an asyncio task cancelled at once; a thread cannot be
        killed, so it is told through `current_context().is_cancelled()` and the run ends when
        the function returns. Stopping a run that already ended does nothing.
        """
        if self._outcome is None:
            self._stop()

    @property
    def status(self) -> TaskStatus:
        """running, succeeded, failed or cancelled."""
        outcome = self._outcome if self._outcome is not None else self._wait_outcome(0)
        if outcome is None:
            return TaskStatus.RUNNING
        if outcome.cancelled:
            return TaskStatus.CANCELLED
        return TaskStatus.SUCCEEDED if outcome.succeeded else TaskStatus.FAILED

    @property
    def attempts(self) -> int | None:
        """How many attempts the run took, once it ended."""
        outcome = self._outcome if self._outcome is not None else self._wait_outcome(0)
        return outcome.attempts if outcome is not None else None

    @property
    def error(self) -> ErrorInfo | None:
        """The last attempt's error as treadle stores it (type, code, message, traceback), once it ended."""
        outcome = self._outcome if self._outcome is not None else self._wait_outcome(0)
        return outcome.error if outcome is not None else None

    def progress(self) -> Progress | None:
        """The latest progress the task reported through `current_context().progress(...)`."""
        self._wait_outcome(0)        # a process run reads pending messages
        return self._progress

    def _set_progress(self, progress: Progress) -> None:
        self._progress = progress

    def _finished(self, timeout: float | None) -> LocalOutcome:
        if self._outcome is None:
            outcome = self._wait_outcome(timeout)
            if outcome is None:
                raise WaitTimeoutError(f"task {self.name} ({self.id}) still running after {timeout:g}s")
            with self._lock:
                if self._outcome is None:
                    self._outcome = outcome
        return self._outcome

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.id} {self.status.value}>"
