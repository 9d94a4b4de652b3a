"""What happens to a task whose lease ran out: the decision, kept pure so every backend applies the same one.

A lease expires by the store's clock when its worker stopped heartbeating (killed, frozen,
partitioned). The attempt already counted at claim, so a task that keeps killing its worker
still runs out of attempts and ends `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .records import LEASE_EXPIRED, ErrorInfo
from .retry import RetryPolicy, decide
from .states import TaskStatus


def lease_expired_error(attempt: int, at: float) -> ErrorInfo:
    """The error recorded for an attempt whose worker stopped heartbeating."""
    return ErrorInfo(message="the worker stopped heartbeating and its lease expired",
                     error_type=LEASE_EXPIRED, retryable=True, attempt=attempt, at=at)


@dataclass(frozen=True, slots=True)
class ExpiryDecision:
    """The new state of a task whose lease expired; `retry_delay` applies when it goes back to pending."""

    status: TaskStatus
    error: ErrorInfo
    retry_delay: float = 0.0


def after_lease_expired(retry_policy: dict[str, Any], attempt: int, cancel_requested: bool,
                        now: float) -> ExpiryDecision:
    """Decide the fate of a task whose lease expired during attempt `attempt`."""
    error = lease_expired_error(attempt, now)
    if cancel_requested:
        return ExpiryDecision(TaskStatus.CANCELLED, error)
    decision = decide(RetryPolicy.from_dict(retry_policy), attempt, error)
    if decision.retry:
        return ExpiryDecision(TaskStatus.PENDING, error, decision.delay)
    return ExpiryDecision(TaskStatus.FAILED, error)
