"""`outcome_of`: what to record after an attempt succeeded, failed or was cancelled."""

from __future__ import annotations

import pytest

from treadle.core.attempt import AttemptCancelled, AttemptFailed, AttemptSucceeded, cancelled_error, outcome_of
from treadle.core.records import Cancelled, ClaimedTask, ErrorInfo, Failed, LeaseRef, Succeeded
from treadle.core.retry import FixedBackoff, LinearBackoff, RetryPolicy

NOW = 1_700_000_000.0


def claimed(attempt: int = 1, policy: RetryPolicy | None = None) -> ClaimedTask:
    policy = policy or RetryPolicy(max_attempts=3, backoff=FixedBackoff(5))
    return ClaimedTask(lease=LeaseRef(task_id="t-1", token="tok", attempt=attempt), namespace="default",
                       name="math.add", args=[1, 2], kwargs={}, max_attempts=policy.max_attempts,
                       retry_policy=policy.to_dict(), timeout_seconds=None, metadata={}, priority=0,
                       lease_expires=NOW + 30)


def failure(retryable: bool = True) -> AttemptFailed:
    return AttemptFailed(ErrorInfo(message="boom", error_type="ValueError", retryable=retryable, attempt=1, at=NOW))


def test_a_success_is_recorded_with_its_result() -> None:
    task = claimed()

    outcome = outcome_of(task, AttemptSucceeded('{"sum": 3}'), cancel_requested=False, now=NOW)

    assert outcome == Succeeded(lease=task.lease, result_json='{"sum": 3}')


def test_a_success_counts_even_if_cancellation_was_requested_meanwhile() -> None:
    task = claimed()

    outcome = outcome_of(task, AttemptSucceeded("3"), cancel_requested=True, now=NOW)

    assert outcome == Succeeded(lease=task.lease, result_json="3")


def test_a_failure_with_attempts_left_is_retried_after_the_backoff_delay() -> None:
    # Given attempt 1 of 3 with a 5 s fixed backoff
    task = claimed(attempt=1)
    result = failure()

    # When it fails with a retryable error
    outcome = outcome_of(task, result, cancel_requested=False, now=NOW)

    # Then the failure is recorded and the next attempt waits 5 s
    assert outcome == Failed(lease=task.lease, error=result.error, retry_delay=5.0)


def test_the_retry_delay_follows_the_task_policy() -> None:
    task = claimed(attempt=3, policy=RetryPolicy(max_attempts=10, backoff=LinearBackoff(initial=1, increment=10)))

    outcome = outcome_of(task, failure(), cancel_requested=False, now=NOW)

    assert isinstance(outcome, Failed)
    assert outcome.retry_delay == 21.0


def test_a_non_retryable_failure_fails_for_good() -> None:
    task = claimed(attempt=1)
    result = failure(retryable=False)

    outcome = outcome_of(task, result, cancel_requested=False, now=NOW)

    assert outcome == Failed(lease=task.lease, error=result.error, retry_delay=None)


def test_a_failure_on_the_last_attempt_fails_for_good() -> None:
    task = claimed(attempt=3)
    result = failure()

    assert outcome_of(task, result, cancel_requested=False, now=NOW) == Failed(lease=task.lease, error=result.error)


@pytest.mark.parametrize("retryable", [True, False])
def test_a_failure_after_a_cancel_request_is_cancelled_not_retried(retryable: bool) -> None:
    task = claimed(attempt=2)

    outcome = outcome_of(task, failure(retryable), cancel_requested=True, now=NOW)

    assert outcome == Cancelled(lease=task.lease, error=cancelled_error("cancelled while running", 2, NOW))


@pytest.mark.parametrize("cancel_requested", [True, False])
def test_an_attempt_that_stopped_for_cancellation_is_cancelled(cancel_requested: bool) -> None:
    task = claimed(attempt=1)

    outcome = outcome_of(task, AttemptCancelled("stopped by user"), cancel_requested=cancel_requested, now=NOW)

    assert isinstance(outcome, Cancelled)
    assert outcome.lease == task.lease
    assert outcome.error == ErrorInfo(message="stopped by user", error_type="Cancelled", retryable=False, attempt=1,
                                      at=NOW)


def test_the_default_cancellation_reason_is_cancelled() -> None:
    outcome = outcome_of(claimed(), AttemptCancelled(), cancel_requested=False, now=NOW)

    assert isinstance(outcome, Cancelled)
    assert outcome.error is not None
    assert outcome.error.message == "cancelled"
