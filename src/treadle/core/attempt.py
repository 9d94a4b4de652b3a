"""What one attempt produced, and the pure rule that turns it into the outcome to record."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .records import Cancelled, ClaimedTask, ErrorInfo, Failed, Outcome, Succeeded
from .retry import RetryPolicy, decide


@dataclass(frozen=True, slots=True)
class AttemptSucceeded:
    """The task returned; its result is already encoded as JSON."""

    result_json: str


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    """The task raised, timed out, or its result could not be encoded."""

    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class AttemptCancelled:
    """The task stopped because cancellation was requested."""

    reason: str = "cancelled"


AttemptResult = AttemptSucceeded | AttemptFailed | AttemptCancelled


def cancelled_error(reason: str, attempt: int, at: float) -> ErrorInfo:
    """The error recorded when a running task is cancelled."""
    return ErrorInfo(message=reason, error_type="Cancelled", retryable=False, attempt=attempt, at=at)


def outcome_of(claimed: ClaimedTask, result: AttemptResult, *, cancel_requested: bool, now: float,
               rng: random.Random | None = None) -> Outcome:
    """The outcome to record for `claimed` after an attempt ended with `result`.

    A task that returns a value succeeded even if cancellation was requested meanwhile (the
    work is done); one that raised after a cancel request is cancelled, not retried.
    """
    if isinstance(result, AttemptSucceeded):
        return Succeeded(lease=claimed.lease, result_json=result.result_json)
    if isinstance(result, AttemptCancelled) or cancel_requested:
        reason = result.reason if isinstance(result, AttemptCancelled) else "cancelled while running"
        return Cancelled(lease=claimed.lease, error=cancelled_error(reason, claimed.attempt, now))
    error = result.error
    decision = decide(RetryPolicy.from_dict(claimed.retry_policy), claimed.attempt, error, rng)
    return Failed(lease=claimed.lease, error=error, retry_delay=decision.delay if decision.retry else None)
