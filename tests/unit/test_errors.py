"""The exception hierarchy, task error fields, and pickling between processes."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from treadle.core.records import ErrorInfo
from treadle.errors import (
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


class DatabaseError(TaskError):
    """A user-defined task error with its own constructor, as an application would write it."""

    def __init__(self, table: str, message: str = "database unavailable") -> None:
        super().__init__(message, error_code="DB_UNAVAILABLE", retryable=True, table=table)
        self.table = table


@pytest.mark.parametrize("cls", [TaskError, SerializationError, ConfigurationError, UnknownTaskError,
                                 TaskNotFoundError, InvalidStateError, WaitTimeoutError, StorageError])
def test_every_error_is_a_treadle_error(cls: type[Exception]) -> None:
    assert issubclass(cls, TreadleError)


def test_task_validation_and_timeout_errors_are_task_errors() -> None:
    assert issubclass(TaskValidationError, TaskError)
    assert issubclass(TaskTimeoutError, TaskError)


def test_a_wait_timeout_is_also_a_builtin_timeout_error() -> None:
    assert issubclass(WaitTimeoutError, TimeoutError)


def test_a_task_error_has_sensible_defaults() -> None:
    error = TaskError("boom")

    assert (error.message, error.error_code, error.error_type, error.retryable, error.details) == (
        "boom", None, "TaskError", True, {})
    assert str(error) == "boom"
    assert error.args == ("boom",)


@pytest.mark.parametrize(("cls", "retryable"), [
    (TaskError, True), (TaskValidationError, False), (TaskTimeoutError, True), (DatabaseError, True),
])
def test_each_task_error_class_has_its_default_retryability(cls: type[TaskError], retryable: bool) -> None:
    error = cls("users") if cls is DatabaseError else cls("boom")

    assert error.retryable is retryable
    assert error.error_type == cls.__name__


@pytest.mark.parametrize("cls", [TaskError, TaskValidationError, TaskTimeoutError])
@pytest.mark.parametrize("retryable", [True, False])
def test_an_explicit_retryable_overrides_the_class_default(cls: type[TaskError], retryable: bool) -> None:
    assert cls("boom", retryable=retryable).retryable is retryable


def test_extra_keyword_arguments_are_kept_as_details() -> None:
    error = TaskError("card declined", error_code="DECLINED", error_type="PaymentDeclined", card="visa", amount=12)

    assert error.details == {"card": "visa", "amount": 12}
    assert (error.error_code, error.error_type) == ("DECLINED", "PaymentDeclined")


@pytest.mark.parametrize("error", [
    TaskError("boom"),
    TaskError("card declined", error_code="DECLINED", error_type="PaymentDeclined", retryable=False, card="visa"),
    TaskValidationError("bad args", error_code="INVALID_ARGUMENTS"),
    TaskValidationError("retry me anyway", retryable=True),
    TaskTimeoutError("too slow", seconds=3.5),
], ids=["plain", "full", "validation", "validation-retryable", "timeout"])
def test_a_task_error_survives_pickling_with_its_fields(error: TaskError) -> None:
    # When the error crosses a process boundary
    copy = pickle.loads(pickle.dumps(error))

    # Then it is the same class with the same fields
    assert type(copy) is type(error)
    assert (copy.message, copy.error_code, copy.error_type, copy.retryable, copy.details) == (
        error.message, error.error_code, error.error_type, error.retryable, error.details)
    assert str(copy) == str(error)
    assert copy.args == error.args


def test_a_custom_task_error_subclass_records_its_fields() -> None:
    error = DatabaseError("users")

    info = ErrorInfo.from_exception(error)

    assert (info.message, info.error_type, info.error_code, info.retryable, info.details) == (
        "database unavailable", "DatabaseError", "DB_UNAVAILABLE", True, {"table": "users"})


def test_a_custom_task_error_subclass_survives_pickling_with_its_base_fields() -> None:
    copy = pickle.loads(pickle.dumps(DatabaseError("users", "connection reset")))

    assert type(copy) is DatabaseError
    assert (copy.message, copy.error_code, copy.retryable, copy.details) == (
        "connection reset", "DB_UNAVAILABLE", True, {"table": "users"})


def test_a_custom_task_error_subclass_keeps_its_own_attributes_through_pickling() -> None:
    copy: Any = pickle.loads(pickle.dumps(DatabaseError("users")))

    assert copy.table == "users"


def test_task_not_found_names_the_id() -> None:
    error = TaskNotFoundError("t-123")

    assert error.task_id == "t-123"
    assert str(error) == "no task with id 't-123'"


def test_task_not_found_survives_pickling() -> None:
    copy = pickle.loads(pickle.dumps(TaskNotFoundError("t-123")))

    assert (copy.task_id, str(copy)) == ("t-123", "no task with id 't-123'")
