"""duroxide's `Runtime` and `ActivityContext`, on a treadle `Runtime`.

An activity is registered as an ordinary treadle task that takes the activity's one input and
calls `fn(ctx, input)`. treadle passes a dict input as keyword arguments and anything else as
one argument, so the activity gets back exactly what the orchestration scheduled, except that an
empty dict and None both arrive as None. As in duroxide, an activity runs once unless the
orchestration schedules it with a retry policy (`schedule_activity_with_retry`).

The activity's `ctx` knows the activity (name, task id, attempt, worker), not the instance that
scheduled it: treadle does not tell a task that, so duroxide's `ctx.instance_id`, `execution_id`
and `session_id` are missing. The client `ctx.get_client()` opens is closed when the activity returns.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from ...core.orchestration import Orchestration
from ...core.retry import RetryPolicy
from ...core.routing import validate_name
from ...core.task import TaskDefinition
from ...engine.context import TaskContext, current_context
from ...engine.runtime import Runtime as TreadleRuntime
from ...errors import ConfigurationError
from .client import Client
from .orchestration import adapt
from .providers import Provider, provider_url
from .results import MetricsSnapshot

__all__ = ["ActivityContext", "Runtime"]

logger = logging.getLogger(__name__)


def _as_given(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """An activity takes whatever input it is given: duroxide does not check inputs."""
    return args, kwargs


def _activity_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The one input the orchestration scheduled, rebuilt from treadle's task arguments."""
    if kwargs:
        return kwargs
    return args[0] if args else None


class ActivityContext:
    """What an activity sees as `ctx`: who it is, tracing, cancellation, and a client."""

    def __init__(self, task: TaskContext, provider: Provider) -> None:
        self._task = task
        self._provider = provider
        self._client: Client | None = None
        self.activity_name = task.name
        self.activity_id = task.task_id
        self.worker_id = task.worker_id
        self.attempt = task.attempt

    def _trace(self, level: int, message: Any) -> None:
        logger.log(level, "%s", message, extra={"event": "activity_trace", "activity": self.activity_name,
                                                 "task_id": self.activity_id, "worker_id": self.worker_id})

    def trace_info(self, message: Any) -> None:
        """Log an informational line, tagged with the activity's name and id."""
        self._trace(logging.INFO, message)

    def trace_warn(self, message: Any) -> None:
        """Log a warning, tagged with the activity's name and id."""
        self._trace(logging.WARNING, message)

    def trace_error(self, message: Any) -> None:
        """Log an error, tagged with the activity's name and id."""
        self._trace(logging.ERROR, message)

    def trace_debug(self, message: Any) -> None:
        """Log a debug line, tagged with the activity's name and id."""
        self._trace(logging.DEBUG, message)

    def is_cancelled(self) -> bool:
        """True once the activity lost a race, its instance was cancelled, or its lease was lost."""
        return self._task.is_cancelled()

    def get_client(self) -> Client:
        """A client on the runtime's provider, e.g. to start other orchestrations (open while the activity runs)."""
        if self._client is None:
            self._client = Client(self._provider)
        return self._client

    def close(self) -> None:
        """Close the client `get_client()` opened, in the thread that opened it (its connections live there)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()


class Runtime:
    """Runs the orchestrations and activities registered with it, in a background thread."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._runtime = TreadleRuntime(provider_url(provider))

    def register_activity(self, name: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register `fn(ctx, input)` as activity `name`; without `fn`, a decorator. Returns the function."""
        if fn is None:
            return lambda f: self.register_activity(name, f)
        if not callable(fn) or inspect.iscoroutinefunction(fn):
            raise ConfigurationError(f"activity {name!r} must be a plain function (ctx, input), got {fn!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            ctx = ActivityContext(current_context(), self.provider)
            try:
                return fn(ctx, _activity_input(args, kwargs))
            finally:
                ctx.close()

        self._runtime.register_task(TaskDefinition(
            name=validate_name(name, "activity name"), call=call, validate=_as_given, is_async=False,
            retry=RetryPolicy.no_retry(), module=getattr(fn, "__module__", None),
            qualname=getattr(fn, "__qualname__", None)))
        return fn

    def register_orchestration(self, name: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register generator function `fn(ctx, input)` as orchestration `name`; without `fn`, a decorator."""
        if fn is None:
            return lambda f: self.register_orchestration(name, f)
        if not callable(fn):
            raise ConfigurationError(f"orchestration {name!r} must be a generator function (ctx, input), got {fn!r}")
        self._runtime.register_orchestration(Orchestration(name, adapt(fn)))
        return fn

    def start(self) -> None:
        """Start running in a background thread."""
        if not self._runtime.claim_patterns:
            raise ConfigurationError("register an activity or an orchestration before starting the runtime")
        self._runtime.start()

    def shutdown(self, timeout_ms: int | None = None) -> None:
        """Stop: running activities may finish (for up to `timeout_ms`, default 60 s), then the thread ends."""
        self._runtime.shutdown(60.0 if timeout_ms is None else max(0.0, timeout_ms / 1000.0))

    def metrics_snapshot(self) -> MetricsSnapshot:
        """Counters since start: orchestrations ended, activities succeeded and failed."""
        return MetricsSnapshot.of(self._runtime.metrics_snapshot())

