"""Azolla's Python client API on treadle: `from treadle.compat.azolla import ...` where Azolla's
examples say `from azolla import ...`, and the rest runs unchanged.

Most names are treadle's own: `azolla_task` is `treadle.task`, `Task` is `treadle.Task`, `Client`
is a `treadle.AsyncClient` made from a `ClientConfig` (`domain` is the namespace), `TaskHandle`
and `TaskResult` are treadle's. The single-invocation `Worker` runs tasks on treadle's own worker,
and the `azolla-worker` command runs one invocation from the shell (`treadle.compat.azolla.cli`).
"""

from __future__ import annotations

from ...client import AsyncTaskHandle as TaskHandle
from ...client import TaskResult
from ...core.states import TaskStatus
from ...core.task import Task
from ...core.task import task as azolla_task
from .client import Client, ClientConfig
from .exceptions import (
    AzollaConnectionError,
    AzollaError,
    ConnectionError,
    SerializationError,
    TaskError,
    TaskTimeoutError,
    TaskValidationError,
    ValidationError,
    WorkerError,
)
from .retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy
from .worker import TaskExecutionOutcome, Worker, WorkerBuilder, WorkerExecution, WorkerInvocation

__all__ = [
    "AzollaConnectionError",
    "AzollaError",
    "Client",
    "ClientConfig",
    "ConnectionError",
    "ExponentialBackoff",
    "FixedBackoff",
    "LinearBackoff",
    "RetryPolicy",
    "SerializationError",
    "Task",
    "TaskError",
    "TaskExecutionOutcome",
    "TaskHandle",
    "TaskResult",
    "TaskStatus",
    "TaskTimeoutError",
    "TaskValidationError",
    "ValidationError",
    "Worker",
    "WorkerBuilder",
    "WorkerError",
    "WorkerExecution",
    "WorkerInvocation",
    "azolla_task",
]
