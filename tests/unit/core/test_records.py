"""Stored records: `ErrorInfo` capture, JSON round trips and display; `Progress`."""

from __future__ import annotations

from typing import Any

import pytest

from treadle.core import serde
from treadle.core.records import ClaimedTask, ErrorInfo, Handoff, LeaseRef, NewTask, Progress
from treadle.errors import TaskError, TaskTimeoutError, TaskValidationError


class PaymentDeclined(TaskError):
    """A user-defined task error."""


def raised(exc: BaseException) -> BaseException:
    """`exc` after it was actually raised, so it carries a traceback."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_task_error_keeps_its_fields() -> None:
    # Given a task error raised with a code, retryability and details
    exc = raised(TaskError("card declined", error_code="DECLINED", retryable=False, card="visa", amount=12))

    # When it is captured
    info = ErrorInfo.from_exception(exc, attempt=2, at=1234.5)

    # Then every field survives
    assert info.message == "card declined"
    assert info.error_type == "TaskError"
    assert info.error_code == "DECLINED"
    assert info.retryable is False
    assert info.details == {"card": "visa", "amount": 12}
    assert (info.attempt, info.at) == (2, 1234.5)
    assert info.traceback is not None
    assert "treadle.errors.TaskError: card declined" in info.traceback
    assert "raise exc" in info.traceback


def test_a_task_error_subclass_records_its_class_chain() -> None:
    info = ErrorInfo.from_exception(PaymentDeclined("no funds"))

    assert info.error_type == "PaymentDeclined"
    assert info.exception_types == (f"{__name__}.PaymentDeclined", "treadle.errors.TaskError",
                                    "treadle.errors.TreadleError")


def test_an_explicit_error_type_overrides_the_class_name() -> None:
    assert ErrorInfo.from_exception(TaskError("slow down", error_type="RateLimited")).error_type == "RateLimited"


@pytest.mark.parametrize(("exc", "error_type", "retryable"), [
    (TaskValidationError("bad args"), "TaskValidationError", False),
    (TaskTimeoutError("too slow"), "TaskTimeoutError", True),
    (TaskValidationError("bad args", retryable=True), "TaskValidationError", True),
])
def test_task_error_subclasses_keep_their_retryability(exc: TaskError, error_type: str, retryable: bool) -> None:
    info = ErrorInfo.from_exception(exc)

    assert (info.error_type, info.retryable) == (error_type, retryable)


def test_the_details_are_copied_not_shared() -> None:
    exc = TaskError("x", key="before")
    info = ErrorInfo.from_exception(exc)

    exc.details["key"] = "after"

    assert info.details == {"key": "before"}


def test_a_plain_exception_is_wrapped_as_a_retryable_error() -> None:
    # Given a ValueError raised by task code
    exc = raised(ValueError("bad value"))

    # When it is captured
    info = ErrorInfo.from_exception(exc, attempt=1, at=5.0)

    # Then it is recorded under its class name, retryable, with its traceback
    assert info.message == "bad value"
    assert info.error_type == "ValueError"
    assert info.error_code is None
    assert info.retryable is True
    assert info.details == {}
    assert info.exception_types == ("builtins.ValueError",)
    assert info.traceback is not None
    assert info.traceback.rstrip().endswith("ValueError: bad value")
    assert (info.attempt, info.at) == (1, 5.0)


def test_exception_types_follow_the_class_hierarchy_without_the_generic_bases() -> None:
    info = ErrorInfo.from_exception(ConnectionRefusedError("refused"))

    assert info.exception_types == ("builtins.ConnectionRefusedError", "builtins.ConnectionError",
                                    "builtins.OSError")


def test_an_exception_without_a_message_uses_its_class_name() -> None:
    assert ErrorInfo.from_exception(KeyboardInterrupt()).message == "KeyboardInterrupt"


def test_an_exception_that_was_never_raised_still_gets_a_traceback_text() -> None:
    info = ErrorInfo.from_exception(RuntimeError("not raised"))

    assert info.traceback == "RuntimeError: not raised\n"


@pytest.mark.parametrize("info", [
    ErrorInfo(message="m", error_type="T"),
    ErrorInfo(message="card declined", error_type="PaymentDeclined", error_code="DECLINED", retryable=False,
              details={"card": "visa", "nested": {"a": [1, 2]}}, traceback="Traceback...",
              exception_types=("app.PaymentDeclined", "treadle.errors.TaskError"), attempt=3, at=99.5),
    ErrorInfo.from_exception(raised(ValueError("x")), attempt=1, at=1.0),
], ids=["minimal", "full", "captured"])
def test_error_info_survives_a_json_round_trip(info: ErrorInfo) -> None:
    assert ErrorInfo.from_dict(serde.loads(serde.dumps(info.to_dict()))) == info


def test_to_dict_has_the_documented_keys() -> None:
    assert ErrorInfo(message="m", error_type="T").to_dict() == {
        "message": "m", "error_type": "T", "error_code": None, "retryable": True, "details": {},
        "traceback": None, "exception_types": [], "attempt": None, "at": None,
    }


def test_from_dict_ignores_unknown_keys_and_fills_defaults() -> None:
    info = ErrorInfo.from_dict({"message": "old row", "added_in_v9": True})

    assert info == ErrorInfo(message="old row", error_type="Error")


def test_to_exception_gives_a_task_error_with_the_same_fields() -> None:
    info = ErrorInfo(message="card declined", error_type="PaymentDeclined", error_code="DECLINED", retryable=False,
                     details={"card": "visa"})

    exc = info.to_exception()

    assert type(exc) is TaskError
    assert (exc.message, exc.error_type, exc.error_code, exc.retryable, exc.details) == (
        "card declined", "PaymentDeclined", "DECLINED", False, {"card": "visa"})
    assert str(exc) == "card declined"


def test_to_exception_and_from_exception_round_trip_the_decision_fields() -> None:
    info = ErrorInfo(message="m", error_type="Custom", error_code="C", retryable=False, details={"k": 1})

    again = ErrorInfo.from_exception(info.to_exception())

    assert (again.message, again.error_type, again.error_code, again.retryable, again.details) == (
        "m", "Custom", "C", False, {"k": 1})


@pytest.mark.parametrize(("kw", "text"), [
    ({"message": "bad value", "error_type": "ValueError"}, "ValueError: bad value"),
    ({"message": "card declined", "error_type": "PaymentDeclined", "error_code": "DECLINED"},
     "PaymentDeclined [DECLINED]: card declined"),
])
def test_str_shows_the_type_code_and_message(kw: dict[str, Any], text: str) -> None:
    assert str(ErrorInfo(**kw)) == text


# --- Progress, ClaimedTask ------------------------------------------------------------------------


@pytest.mark.parametrize("progress", [
    Progress(),
    Progress(percent=42.5, message="resizing", data={"done": 17, "of": [40]}, at=10.0),
    Progress(percent=0.0, message="", data=0),
], ids=["empty", "full", "falsy-values"])
def test_progress_survives_a_json_round_trip(progress: Progress) -> None:
    assert Progress.from_dict(serde.loads(serde.dumps(progress.to_dict()))) == progress


def test_progress_to_dict_has_the_documented_keys() -> None:
    assert Progress(percent=1.0).to_dict() == {"percent": 1.0, "message": None, "data": None, "at": None}


def test_a_claimed_task_exposes_its_id_and_attempt_from_the_lease() -> None:
    claimed = ClaimedTask(lease=LeaseRef(task_id="t-1", token="tok", attempt=3), namespace="default", name="x",
                          args=[], kwargs={}, max_attempts=3, retry_policy={}, timeout_seconds=None, metadata={},
                          priority=0, lease_expires=0.0)

    assert (claimed.id, claimed.attempt) == ("t-1", 3)


def _activity(task_id: str) -> NewTask:
    return NewTask(id=task_id, name="t.step", namespace="default", wf_instance="i1", wf_execution=1, wf_seq=1)


def test_a_lease_sent_before_its_insert_was_confirmed_is_dropped_unless_the_insert_happened() -> None:
    handoff = Handoff(worker_id="w1", lease_seconds=30, names=frozenset({"t.step"}), room=3)
    for task_id in ("a", "b", "c"):
        assert handoff.take(_activity(task_id))
    handoff.lease(_activity("a"), "tok-a", 100.0)                      # known at once
    handoff.lease(_activity("b"), "tok-b", 100.0, confirmed=False)     # answered after the commit
    handoff.lease(_activity("c"), "tok-c", 100.0, confirmed=False)
    assert handoff.unconfirmed == {"b", "c"}
    handoff.confirm({"b"})                                             # "c" existed already: not ours to run
    assert [c.lease.task_id for c in handoff.claimed] == ["a", "b"]
    assert handoff.taken == 2 and handoff.unconfirmed == set()
    assert handoff.take(_activity("d"))                                # its slot is free again


def test_resetting_a_handoff_forgets_unconfirmed_leases() -> None:
    handoff = Handoff(worker_id="w1", lease_seconds=30, names=frozenset({"t.step"}), room=1)
    assert handoff.take(_activity("a"))
    handoff.lease(_activity("a"), "tok-a", 100.0, confirmed=False)
    handoff.reset()
    assert handoff.claimed == [] and handoff.unconfirmed == set() and handoff.taken == 0
