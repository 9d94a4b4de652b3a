"""`after_lease_expired`: the fate of a task whose worker stopped heartbeating."""

from __future__ import annotations

from treadle.core.lease import ExpiryDecision, after_lease_expired, lease_expired_error
from treadle.core.records import LEASE_EXPIRED, ErrorInfo
from treadle.core.retry import ExponentialBackoff, FixedBackoff, RetryPolicy
from treadle.core.states import TaskStatus

NOW = 500.0


def test_the_lease_expired_error_is_retryable_and_names_the_attempt() -> None:
    assert lease_expired_error(2, NOW) == ErrorInfo(
        message="the worker stopped heartbeating and its lease expired", error_type=LEASE_EXPIRED, retryable=True,
        attempt=2, at=NOW)


def test_an_expired_lease_with_attempts_left_goes_back_to_pending_after_the_backoff() -> None:
    # Given a task on attempt 1 of 3 with a 5 s fixed backoff
    policy = RetryPolicy(max_attempts=3, backoff=FixedBackoff(5)).to_dict()

    # When its lease expires
    decision = after_lease_expired(policy, attempt=1, cancel_requested=False, now=NOW)

    # Then it is pending again, due in 5 s, with the expiry recorded
    assert decision == ExpiryDecision(TaskStatus.PENDING, lease_expired_error(1, NOW), 5.0)


def test_the_expiry_backoff_grows_with_the_attempt_number() -> None:
    policy = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=2, multiplier=3)).to_dict()

    decision = after_lease_expired(policy, attempt=3, cancel_requested=False, now=NOW)

    assert (decision.status, decision.retry_delay) == (TaskStatus.PENDING, 18.0)


def test_an_expired_lease_is_retried_even_if_retry_on_lists_other_errors() -> None:
    policy = RetryPolicy(max_attempts=3, backoff=FixedBackoff(1), retry_on=[ConnectionError]).to_dict()

    assert after_lease_expired(policy, attempt=1, cancel_requested=False, now=NOW).status is TaskStatus.PENDING


def test_an_expired_lease_on_the_last_attempt_fails_the_task() -> None:
    policy = RetryPolicy(max_attempts=3).to_dict()

    decision = after_lease_expired(policy, attempt=3, cancel_requested=False, now=NOW)

    assert decision == ExpiryDecision(TaskStatus.FAILED, lease_expired_error(3, NOW), 0.0)


def test_an_expired_lease_of_a_single_attempt_task_fails_it() -> None:
    decision = after_lease_expired(RetryPolicy.no_retry().to_dict(), attempt=1, cancel_requested=False, now=NOW)

    assert decision.status is TaskStatus.FAILED


def test_an_expired_lease_with_a_cancel_request_cancels_the_task() -> None:
    # Given attempts remain, but the user asked to cancel
    policy = RetryPolicy(max_attempts=3).to_dict()

    decision = after_lease_expired(policy, attempt=1, cancel_requested=True, now=NOW)

    # Then the task is cancelled instead of retried
    assert decision == ExpiryDecision(TaskStatus.CANCELLED, lease_expired_error(1, NOW), 0.0)


def test_an_empty_stored_policy_means_the_default_policy() -> None:
    assert after_lease_expired({}, attempt=2, cancel_requested=False, now=NOW).retry_delay == 2.0
    assert after_lease_expired({}, attempt=3, cancel_requested=False, now=NOW).status is TaskStatus.FAILED
