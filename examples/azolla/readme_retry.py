"""Azolla README, "Custom Retry Policies" (imports changed; the README's snippet uses `TaskTimeoutError`
without importing it)."""

from __future__ import annotations

from treadle.compat.azolla.exceptions import TaskTimeoutError
from treadle.compat.azolla.retry import ExponentialBackoff, LinearBackoff, RetryPolicy

# Exponential backoff with jitter
exponential_retry = RetryPolicy(
    max_attempts=5,
    backoff=ExponentialBackoff(
        initial=1.0,
        multiplier=2.0,
        max_delay=60.0,
        jitter=True
    ),
    retry_on=[ConnectionError, TaskTimeoutError],
    stop_on_codes=["INVALID_EMAIL"]
)

# Linear backoff
linear_retry = RetryPolicy(
    max_attempts=3,
    backoff=LinearBackoff(initial=2.0, increment=1.0)
)
