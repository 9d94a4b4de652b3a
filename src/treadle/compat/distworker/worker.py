"""`Worker`: DistWorker's worker API over treadle's remote `Worker`.

Names map one to one: `controller_url` is a treadle server's `ws://host:port/ws`,
`worker_id`/`worker_token` the credential `treadle auth add-worker` prints, a handler's
pattern is a task-name pattern (DistWorker's `#` becomes treadle's `*`; treadle's `*`
matches across dots, so `math.*` also takes `math.stats.mean`), `heartbeat_interval` is how
often the leases of running tasks are renewed, and a handler's return value is the task's
result while an exception fails the attempt (retried per the task's retry policy).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from ...core.records import DEFAULT_NAMESPACE
from ...core.routing import Pattern
from ...engine.context import TaskContext, current_context
from ...engine.worker import Worker as TreadleWorker
from ...errors import ConfigurationError, TaskError, TreadleError
from ...settings import WorkerSettings
from .config import resolve
from .signals import SignalRelay
from .task import Task

logger = logging.getLogger(__name__)

Handler = Callable[[Task], Any]
LEASES_PER_HEARTBEAT = 3


def treadle_pattern(pattern: str) -> Pattern:
    """A DistWorker queue pattern as a treadle task-name pattern (`#`, any rest of the name, becomes `*`)."""
    if not isinstance(pattern, str):
        raise ConfigurationError(f"a queue pattern must be a string like 'math.*', got {pattern!r}")
    return Pattern(pattern.replace("#", "*"))


def _settings(heartbeat_interval: float) -> WorkerSettings:
    """Leases renewed every `heartbeat_interval`, and long enough that one late renewal does not lose a task."""
    if isinstance(heartbeat_interval, bool) or not isinstance(heartbeat_interval, (int, float)) \
            or not 0 < heartbeat_interval < float("inf"):
        raise ConfigurationError(f"heartbeat_interval must be a positive number of seconds, got {heartbeat_interval!r}")
    return WorkerSettings(heartbeat_seconds=heartbeat_interval,
                          lease_seconds=LEASES_PER_HEARTBEAT * heartbeat_interval)


async def _call(handler: Handler, task: Task) -> Any:
    """Run a handler: async ones on the worker's loop, plain functions in a thread so they cannot block it."""
    value = handler(task) if inspect.iscoroutinefunction(handler) else await asyncio.to_thread(handler, task)
    return await value if inspect.isawaitable(value) else value


class Worker:
    """A DistWorker worker: connects to a treadle server and runs the handler registered for each task.

    Arguments left out are read from `DISTWORKER_CONTROLLER_URL`, `DISTWORKER_WORKER_ID` and
    `DISTWORKER_WORKER_TOKEN`. `queue_patterns` limits what the worker takes; by default it takes
    the patterns of its handlers, and a task it takes without a matching handler fails with
    `NO_HANDLER`. `reconnect_interval` is the first wait after losing the server (treadle doubles
    it up to 30 s); `max_reconnect_attempts=-1` never gives up.

    treadle additions, keyword-only: `namespace` (the credential's), `concurrency` (tasks at
    once; 1, as a DistWorker worker runs one task at a time) and `handle_signals` (see `start`).
    """

    def __init__(self, controller_url: str | None = None, worker_id: str | None = None,
                 worker_token: str | None = None, queue_patterns: Iterable[str] | None = None,
                 resource_info: dict[str, Any] | None = None, reconnect_interval: float = 5.0,
                 heartbeat_interval: float = 30.0, max_reconnect_attempts: int = -1, *,
                 namespace: str = DEFAULT_NAMESPACE, concurrency: int = 1, handle_signals: bool = True) -> None:
        connection = resolve(controller_url, worker_id, worker_token)
        self.controller_url = connection.url
        self.worker_id = connection.worker_id
        self.worker_token = connection.worker_token
        if isinstance(queue_patterns, str):
            raise ConfigurationError(f"queue_patterns must be a list of patterns, got the string {queue_patterns!r}")
        self.queue_patterns = None if queue_patterns is None else [treadle_pattern(p).text for p in queue_patterns]
        if self.queue_patterns == []:
            raise ConfigurationError("queue_patterns is empty: give at least one pattern, or leave it out to take "
                                     "the patterns of the registered handlers")
        self.resource_info = dict(resource_info or {})
        self.reconnect_interval = reconnect_interval
        self.heartbeat_interval = heartbeat_interval
        self.max_reconnect_attempts = max_reconnect_attempts
        self.namespace = namespace
        self.concurrency = concurrency
        self._settings = _settings(heartbeat_interval)
        self._handlers: dict[str, tuple[Pattern, Handler]] = {}
        self._engine = self._new_engine()      # built now so that a bad argument is refused here
        self._run: asyncio.Task[None] | None = None
        self._relay = SignalRelay(self._on_signal) if handle_signals else None

    def _new_engine(self) -> TreadleWorker:
        return TreadleWorker(self.controller_url, worker_id=self.worker_id, worker_token=self.worker_token,
                             resource_info=self.resource_info, reconnect_interval=self.reconnect_interval,
                             max_reconnect_attempts=self.max_reconnect_attempts, namespace=self.namespace,
                             concurrency=self.concurrency, settings=self._settings)

    @property
    def engine(self) -> TreadleWorker:
        """The treadle `Worker` underneath (settings, counters, claim patterns): what DistWorker has no name for."""
        return self._engine

    @property
    def running(self) -> bool:
        """True between `start()` and the worker's end (`stop()`, a signal, or a fatal error)."""
        return self._run is not None and not self._run.done()

    def register_handler(self, pattern: str, handler: Handler) -> None:
        """Run `handler(task)` for tasks whose name matches `pattern`; the first registered match wins."""
        parsed = treadle_pattern(pattern)
        if not callable(handler):
            raise ConfigurationError(f"the handler for {pattern!r} must be callable, got {handler!r}")
        new = pattern not in self._handlers
        self._handlers[pattern] = (parsed, handler)
        if new and self.running and self.queue_patterns is None:
            self._engine.register_handler(parsed.text, self._dispatch)

    async def start(self) -> None:
        """Connect and run in the background of the running event loop; returns once connected.

        Refused credentials raise `AuthenticationError` here; an unreachable server does not
        (the worker keeps trying, per `max_reconnect_attempts`). While it runs, SIGINT and SIGTERM
        first stop it gracefully, then reach the program as usual; a program with signal handlers
        of its own should pass `handle_signals=False` and call `stop()` from them.
        """
        if self.running:
            return
        patterns = self.queue_patterns or [parsed.text for parsed, _ in self._handlers.values()]
        if not patterns:
            raise ConfigurationError("this worker has no handlers: call worker.register_handler('math.*', handler) "
                                     "before start()")
        if self._run is not None:              # started before: a stopped treadle worker cannot run again
            self._engine, self._run = self._new_engine(), None
        for pattern in dict.fromkeys(patterns):
            self._engine.register_handler(pattern, self._dispatch)
        try:
            await self._engine.storage.open()
        except BaseException:
            await self._engine.storage.close()
            self._engine = self._new_engine()
            raise
        self._run = asyncio.create_task(self._engine.run(), name=f"distworker-{self.worker_id}")
        self._run.add_done_callback(self._ended)
        if self._relay is not None:
            self._relay.install(asyncio.get_running_loop())

    async def stop(self) -> None:
        """Stop taking tasks, let running ones finish (treadle's grace period), and disconnect.

        Raises the error that ended the worker, if one did (e.g. a revoked credential).
        """
        run = self._run
        if run is None:
            return
        if self._relay is not None:
            self._relay.release(pass_on=False)
        self._engine.stop()
        await asyncio.shield(run)

    async def send_task_progress(self, progress: float, message: str = "", data: dict[str, Any] | None = None) -> None:
        """Report the progress (0-100) of the task running in the calling handler; clients see it at once."""
        try:
            ctx = current_context()
        except TreadleError:
            raise TreadleError("send_task_progress() needs a running task: call it from a task handler") from None
        ctx.progress(progress, message, data)

    async def _dispatch(self, ctx: TaskContext) -> Any:
        handler = next((h for parsed, h in self._handlers.values() if parsed.matches(ctx.name)), None)
        if handler is None:
            raise TaskError(f"No handler found for queue: {ctx.name}", error_code="NO_HANDLER", retryable=False)
        return await _call(handler, Task.from_context(ctx))

    def _on_signal(self) -> None:
        self._engine.stop()
        if not self.running and self._relay is not None:
            self._relay.release()

    def _ended(self, run: asyncio.Task[None]) -> None:
        if not run.cancelled() and run.exception() is not None:
            logger.error("DistWorker worker %s stopped: %s", self.worker_id, run.exception(),
                         extra={"event": "distworker_stopped", "worker_id": self.worker_id})
        if self._relay is not None:
            self._relay.release()
