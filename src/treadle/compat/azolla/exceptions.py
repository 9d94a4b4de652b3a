"""Azolla's exception names (`azolla.exceptions`), which are treadle's own classes.

`TaskError(message, error_code=..., error_type=..., retryable=..., **extra_data)` is treadle's
`TaskError` with the same arguments (extra keyword arguments are kept as `details`), so custom
subclasses written for Azolla work unchanged. Two differences: treadle leaves `error_code` empty
unless given (Azolla fills in `TASK_ERROR`, `VALIDATION_ERROR`, ...), and `ConnectionError` is
treadle's `StorageError`, raised when the server or database cannot be reached. The only class of
the facade's own is `WorkerError`.
"""

from __future__ import annotations

from ...errors import (
    SerializationError,
    StorageError,
    TaskError,
    TaskNotFoundError,
    TaskTimeoutError,
    TaskValidationError,
    TreadleError,
    WaitTimeoutError,
)

AzollaError = TreadleError
ConnectionError = StorageError   # Azolla's name: it shadows the builtin, as in Azolla
AzollaConnectionError = StorageError
ValidationError = TaskValidationError
TaskWaitTimeoutError = WaitTimeoutError


class WorkerError(TreadleError):
    """A worker could not take on an invocation: malformed JSON arguments, a task name it has not
    registered, or a task that is not pending (unknown, running elsewhere or finished)."""


__all__ = [
    "AzollaConnectionError",
    "AzollaError",
    "ConnectionError",
    "SerializationError",
    "TaskError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "TaskValidationError",
    "TaskWaitTimeoutError",
    "ValidationError",
    "WorkerError",
]
