"""treadle: distributed task processing and durable workflows, from one SQLite file to PostgreSQL.

The public names load on first use (PEP 562): a worker process imports only what it runs, not
the clients, local runners and server parts beside it (start-up time, paid by every worker).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionLostError,
    InstanceNotFoundError,
    InvalidStateError,
    NondeterminismError,
    OrchestrationFailure,
    SerializationError,
    StorageError,
    TaskError,
    TaskNotFoundError,
    TaskTimeoutError,
    TaskValidationError,
    TreadleError,
    UnknownTaskError,
    WaitTimeoutError,
)

if TYPE_CHECKING:
    from .client import AsyncClient, AsyncTaskHandle, Client, SubmitBuilder, TaskHandle, TaskResult
    from .core.orchestration import Orchestration, orchestration
    from .core.records import ErrorInfo, InstanceInfo, Progress, TaskInfo
    from .core.retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy
    from .core.states import TaskStatus
    from .core.task import Task, task
    from .engine.context import TaskContext, current_context
    from .engine.runtime import Runtime
    from .engine.worker import Worker
    from .local.dask import DaskRunner
    from .local.process import ProcessRunner
    from .local.runners import AsyncioRunner, Runner, SequentialRunner, ThreadRunner, start_local
    from .local.runs import TaskRun
    from .settings import WorkerSettings
    from .workflow.context import OrchestrationContext, RaceResult
    from .workflow.history import HistoryEvent

# Where each public name lives.
_LAZY: dict[str, str] = {
    "AsyncClient": ".client",
    "AsyncTaskHandle": ".client",
    "Client": ".client",
    "SubmitBuilder": ".client",
    "TaskHandle": ".client",
    "TaskResult": ".client",
    "Orchestration": ".core.orchestration",
    "orchestration": ".core.orchestration",
    "ErrorInfo": ".core.records",
    "InstanceInfo": ".core.records",
    "Progress": ".core.records",
    "TaskInfo": ".core.records",
    "ExponentialBackoff": ".core.retry",
    "FixedBackoff": ".core.retry",
    "LinearBackoff": ".core.retry",
    "RetryPolicy": ".core.retry",
    "TaskStatus": ".core.states",
    "Task": ".core.task",
    "task": ".core.task",
    "TaskContext": ".engine.context",
    "current_context": ".engine.context",
    "Runtime": ".engine.runtime",
    "Worker": ".engine.worker",
    "DaskRunner": ".local.dask",
    "ProcessRunner": ".local.process",
    "AsyncioRunner": ".local.runners",
    "Runner": ".local.runners",
    "SequentialRunner": ".local.runners",
    "ThreadRunner": ".local.runners",
    "start_local": ".local.runners",
    "TaskRun": ".local.runs",
    "WorkerSettings": ".settings",
    "OrchestrationContext": ".workflow.context",
    "RaceResult": ".workflow.context",
    "HistoryEvent": ".workflow.history",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'treadle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value         # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncTaskHandle",
    "AsyncioRunner",
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "ConnectionLostError",
    "DaskRunner",
    "ErrorInfo",
    "ExponentialBackoff",
    "FixedBackoff",
    "HistoryEvent",
    "InstanceInfo",
    "InstanceNotFoundError",
    "InvalidStateError",
    "LinearBackoff",
    "NondeterminismError",
    "Orchestration",
    "OrchestrationContext",
    "OrchestrationFailure",
    "ProcessRunner",
    "Progress",
    "RaceResult",
    "RetryPolicy",
    "Runner",
    "Runtime",
    "SequentialRunner",
    "SerializationError",
    "StorageError",
    "SubmitBuilder",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskHandle",
    "TaskInfo",
    "TaskNotFoundError",
    "TaskResult",
    "TaskRun",
    "TaskStatus",
    "TaskTimeoutError",
    "TaskValidationError",
    "ThreadRunner",
    "TreadleError",
    "UnknownTaskError",
    "WaitTimeoutError",
    "Worker",
    "WorkerSettings",
    "current_context",
    "orchestration",
    "start_local",
    "task",
]
