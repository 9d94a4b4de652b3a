"""treadle: distributed task processing and durable workflows, from one SQLite file to PostgreSQL."""

from __future__ import annotations

from .client import AsyncClient, AsyncTaskHandle, Client, SubmitBuilder, TaskHandle, TaskResult
from .core.orchestration import Orchestration, orchestration
from .core.records import ErrorInfo, InstanceInfo, Progress, TaskInfo
from .core.retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy
from .core.states import TaskStatus
from .core.task import Task, task
from .engine.context import TaskContext, current_context
from .engine.runtime import Runtime
from .engine.worker import Worker
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
from .local.dask import DaskRunner
from .local.process import ProcessRunner
from .local.runners import AsyncioRunner, Runner, SequentialRunner, ThreadRunner, start_local
from .local.runs import TaskRun
from .settings import WorkerSettings
from .workflow.context import OrchestrationContext, RaceResult
from .workflow.history import HistoryEvent

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
