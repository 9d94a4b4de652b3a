"""Every exception treadle raises, under one root.

```
TreadleError
├── TaskError                  a task attempt failed (raised by task code, or wrapping what it raised)
│   ├── TaskValidationError    arguments do not fit the task; never retried
│   └── TaskTimeoutError       the attempt ran past its timeout; retried by default
├── SerializationError         a value cannot be stored as JSON
├── ConfigurationError         a bad URL, option or task definition
├── UnknownTaskError           no definition for a task name where one is required
├── TaskNotFoundError          no task with that id (in this namespace)
├── InstanceNotFoundError      no orchestration instance with that id (in this namespace)
├── InvalidStateError          the operation does not apply to the task's current state
├── NondeterminismError        orchestration code no longer matches its recorded history
├── OrchestrationFailure       raised inside an orchestration when an activity or child failed
├── WaitTimeoutError           a wait ran out of time before the task finished
├── AuthenticationError        the server refused a credential (the reason says why)
└── StorageError               the storage backend failed (the driver error is the cause)
    └── ConnectionLostError    the server stayed unreachable for every reconnection attempt
```

Task errors carry structured fields so that they survive the trip through storage as JSON
(`ErrorInfo` in `treadle.core.records`) and decide retries without the original exception.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionLostError",
    "InstanceNotFoundError",
    "InvalidStateError",
    "NondeterminismError",
    "OrchestrationFailure",
    "SerializationError",
    "StorageError",
    "TaskError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "TaskValidationError",
    "TreadleError",
    "UnknownTaskError",
    "WaitTimeoutError",
]


class TreadleError(Exception):
    """Something treadle could not do."""


class TaskError(TreadleError):
    """A task attempt failed; `retryable` tells the retry policy whether another attempt may help.

    Raise it (or a subclass) from task code to choose the code, type and retryability that
    are recorded. Any other exception a task raises is wrapped into one, with `error_type`
    set to the exception's class name. Extra keyword arguments are kept as `details`.
    """

    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        error_type: str | None = None,
        retryable: bool | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.error_type = error_type or type(self).__name__
        self.retryable = self.default_retryable if retryable is None else retryable
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would be lost by the default pickling used between processes.
        return (_rebuild_task_error, (type(self), self.message, self.error_code, self.error_type,
                                      self.retryable, self.details), self.__dict__.copy())


def _rebuild_task_error(cls: type[TaskError], message: str, error_code: str | None, error_type: str,
                        retryable: bool, details: dict[str, Any]) -> TaskError:
    err = TaskError.__new__(cls)
    TaskError.__init__(err, message, error_code=error_code, error_type=error_type, retryable=retryable,
                       **details)
    return err


class TaskValidationError(TaskError):
    """The task's arguments do not fit its signature or `Args` model; retrying cannot help."""

    default_retryable = False


class TaskTimeoutError(TaskError):
    """The attempt ran longer than the task's timeout."""


class SerializationError(TreadleError):
    """A value (arguments, result, metadata) cannot be encoded as JSON."""


class ConfigurationError(TreadleError):
    """A URL, option or task definition is invalid."""


class UnknownTaskError(TreadleError):
    """No task definition is known under this name."""


class TaskNotFoundError(TreadleError):
    """No task with this id exists in this namespace."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task with id {task_id!r}")
        self.task_id = task_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.task_id,), self.__dict__.copy())


class InstanceNotFoundError(TreadleError):
    """No orchestration instance with this id exists in this namespace."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"no orchestration instance {instance_id!r}")
        self.instance_id = instance_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.instance_id,), self.__dict__.copy())


class InvalidStateError(TreadleError):
    """The operation does not apply to the task in its current state (e.g. re-driving a running task)."""


class NondeterminismError(TreadleError):
    """The orchestration's code no longer matches its recorded history: the instance fails, never diverges."""

    def __init__(self, instance_id: str, step: int, expected: Any, actual: Any) -> None:
        super().__init__(f"orchestration {instance_id} diverged from its history at step {step}: "
                         f"history has {expected}, the code now does {actual}")
        self.instance_id = instance_id
        self.step = step
        self.expected = expected
        self.actual = actual


class OrchestrationFailure(TreadleError):
    """Raised into orchestration code when an activity or sub-orchestration failed.

    Catch it to compensate; `error` is the failure as stored (message, type, code, details).
    """

    def __init__(self, what: str, error: dict[str, Any]) -> None:
        super().__init__(f"{what} failed: {error.get('error_type', 'Error')}: {error.get('message', '')}")
        self.what = what
        self.error = error


class WaitTimeoutError(TreadleError, TimeoutError):
    """The task did not finish within the time the caller was willing to wait; it keeps running."""


class StorageError(TreadleError):
    """The storage backend failed; the driver's exception is chained as the cause."""


class AuthenticationError(TreadleError):
    """The server refused a credential: missing, wrong, revoked, stale or replayed (the message says which)."""


class ConnectionLostError(StorageError):
    """The server could not be reached again within the allowed reconnection attempts; a worker stops."""
