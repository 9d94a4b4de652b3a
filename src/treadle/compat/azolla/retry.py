"""Azolla's retry names (`azolla.retry`): treadle's policy and backoffs, with the same arguments.

`RetryPolicy(max_attempts, backoff, retry_on, stop_on_codes)`, `ExponentialBackoff(initial,
multiplier, max_delay, jitter)`, `LinearBackoff(initial, increment, max_delay)` and
`FixedBackoff(delay)`. Defaults are treadle's: an `ExponentialBackoff` has no jitter unless asked
(`jitter=True` spreads delays over ±50 %) and caps at 60 s (Azolla: jitter on, 300 s).
"""

from __future__ import annotations

from ...core.retry import ExponentialBackoff, FixedBackoff, LinearBackoff, RetryPolicy

__all__ = ["ExponentialBackoff", "FixedBackoff", "LinearBackoff", "RetryPolicy"]
