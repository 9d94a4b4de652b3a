"""Local runs in a process of their own (the default runner): true parallelism and a hard stop.

With "fork" the child inherits the task as it is in memory (closures and all); with "spawn"
(or "forkserver") it re-imports the task by module and qualified name, so the task must be
defined at module level. The child runs every attempt, so retries survive nothing but need
no parent thread, and sends progress and the outcome back through a pipe.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import pickle
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from ..core.records import ErrorInfo, Progress
from ..core.task import TaskDefinition, definition_of
from ..engine.child import import_task
from ..errors import ConfigurationError, SerializationError
from .attempts import LocalOutcome, RunControl, crashed, for_shipping, run_attempts, stopped
from .runs import TaskRun

STOP_GRACE_SECONDS = 5.0


def _portable(outcome: LocalOutcome) -> tuple[LocalOutcome, bytes | None]:
    """The outcome with its exception pickled apart, so a value or an exception that cannot cross
    the pipe degrades to a stored error instead of losing the whole outcome."""
    exception = None
    if outcome.exception is not None:
        try:
            exception = pickle.dumps(outcome.exception)
        except Exception:
            exception = None
    plain = replace(outcome, exception=None)
    try:
        pickle.dumps(plain)
    except Exception as exc:
        error = SerializationError(f"the result of the task cannot be sent back from its process: {exc}")
        plain = LocalOutcome(attempts=outcome.attempts, error=ErrorInfo.from_exception(error))
        exception = pickle.dumps(error)
    return plain, exception


def _child_main(conn: Connection, definition: TaskDefinition | None, where: tuple[str, str], run_id: str,
                args: list[Any], kwargs: dict[str, Any]) -> None:
    try:
        task = definition if definition is not None else definition_of(import_task(*where))
        control = RunControl(on_progress=lambda progress: conn.send(("progress", progress)))
        outcome = run_attempts(task, run_id, args, kwargs, control, own_process=True)
    except BaseException as exc:
        outcome = crashed(exc)
    conn.send(("done", _portable(outcome)))
    conn.close()


class ProcessRun(TaskRun):
    """A run in a child process, read through a pipe."""

    def __init__(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any],
                 start_method: str) -> None:
        super().__init__(run_id, definition.name)
        context: Any = multiprocessing.get_context(start_method)
        self._conn, child_end = context.Pipe(duplex=False)
        inherited = definition if start_method == "fork" else None
        if inherited is None and (definition.module is None or definition.qualname is None):
            raise ConfigurationError(f"task {definition.name} cannot be started with {start_method}: "
                                     "it has no importable module and name")
        where = (definition.module or "", definition.qualname or "")
        self._process = context.Process(target=_child_main, name=f"treadle-{definition.name}-{run_id}",
                                        args=(child_end, inherited, where, run_id, args, kwargs))
        self._process.start()
        child_end.close()
        self._result: LocalOutcome | None = None
        self._stopped = False
        _unread.add(self)

    def _read(self) -> None:
        """Take every message waiting in the pipe (progress, then the outcome)."""
        try:
            while self._result is None and self._conn.poll():
                kind, body = self._conn.recv()
                if kind == "progress" and isinstance(body, Progress):
                    self._set_progress(body)
                elif kind == "done":
                    self._result = self._rebuild(*body)
        except (EOFError, OSError):
            self._result = self._result or self._ended_without_outcome()

    @staticmethod
    def _rebuild(outcome: LocalOutcome, exception: bytes | None) -> LocalOutcome:
        if exception is not None:
            try:
                return replace(outcome, exception=pickle.loads(exception))
            except Exception:
                pass        # an exception class that cannot be rebuilt here: the stored error stands in
        return outcome

    def _ended_without_outcome(self) -> LocalOutcome:
        self._process.join(STOP_GRACE_SECONDS)
        if self._stopped:
            return stopped(self.name, self.id, attempt=0)
        error = ErrorInfo(message=f"the process of task {self.name} ended (exit code {self._process.exitcode}) "
                          "without a result", error_type="ProcessExited", retryable=False, at=time.time())
        return LocalOutcome(attempts=0, error=error, exception=error.to_exception())

    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._read()
            if self._result is not None:
                self._process.join(STOP_GRACE_SECONDS)
                _unread.discard(self)
                return self._result
            if not self._process.is_alive():
                self._read()            # anything sent just before it exited
                if self._result is None:
                    self._result = self._ended_without_outcome()
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            multiprocessing.connection.wait([self._conn, self._process.sentinel], remaining)

    def _stop(self) -> None:
        self._stopped = True
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_GRACE_SECONDS)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._read()
        if self._result is None:
            self._result = stopped(self.name, self.id, attempt=0)


_unread: set[ProcessRun] = set()      # strong: a run nobody kept a handle on must still be read


@atexit.register
def _read_unread_runs() -> None:
    """At exit, read the outcome of every run nobody waited for: a child blocked writing a large
    result into a full pipe would otherwise never end, and the interpreter waits for it."""
    for run in list(_unread):
        run._wait_outcome(None)


class ProcessRunner:
    """Each run in a new process: parallel CPU work, a hard timeout (SIGALRM in the child) and a
    stop that really stops (SIGTERM, then SIGKILL). `start_method` is "fork" (the default where
    available: the child inherits the caller's state), "spawn" or "forkserver" (a fresh
    interpreter that re-imports the task)."""

    def __init__(self, start_method: str | None = None) -> None:
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "fork" if "fork" in methods else "spawn"
        if start_method not in methods:
            raise ConfigurationError(f"start_method must be one of {', '.join(methods)}, got {start_method!r}")
        self.start_method = start_method

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Start the child process and return at once; the interpreter waits for it at exit."""
        shipped = for_shipping(definition)
        return ProcessRun(shipped, run_id, args, kwargs, self.start_method)

    def __repr__(self) -> str:
        return f"ProcessRunner({self.start_method!r})"
