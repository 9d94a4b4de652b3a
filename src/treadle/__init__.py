"""treadle: distributed task processing and durable workflows, from one SQLite file to PostgreSQL."""

from __future__ import annotations

# Submitting and inspecting
from .client import AsyncClient, AsyncTaskHandle, Client, SubmitBuilder, TaskHandle, TaskResult
from .core.records import ErrorInfo, Progress, TaskInfo

# Defining tasks
from .core.retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy
from .core.states import TaskStatus
from .core.task import Task, task

# Running
from .engine.context import TaskContext, current_context
from .engine.worker import Worker

# Errors
from .errors import (
    ConfigurationError,
    InvalidStateError,
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
from .settings import WorkerSettings

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncTaskHandle",
    "Client",
    "ConfigurationError",
    "ErrorInfo",
    "ExponentialBackoff",
    "FixedBackoff",
    "InvalidStateError",
    "LinearBackoff",
    "Progress",
    "RetryPolicy",
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
    "TaskStatus",
    "TaskTimeoutError",
    "TaskValidationError",
    "TreadleError",
    "UnknownTaskError",
    "WaitTimeoutError",
    "Worker",
    "WorkerSettings",
    "current_context",
    "task",
]
