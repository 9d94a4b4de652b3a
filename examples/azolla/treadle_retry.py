"""treadle's retry policies: the same arguments; attach one to a task (`@task(retry=...)`) or to one
submission (`.retry_policy(...)`). The policy is stored with the task, so whichever worker runs the
next attempt applies it. Run this module to see when each attempt would run."""

from __future__ import annotations

import random

from treadle import ExponentialBackoff, LinearBackoff, RetryPolicy, TaskTimeoutError
from treadle.core.records import ErrorInfo
from treadle.core.retry import decide

exponential_retry = RetryPolicy(
    max_attempts=5,
    backoff=ExponentialBackoff(initial=1.0, multiplier=2.0, max_delay=60.0, jitter=True),
    retry_on=[ConnectionError, TaskTimeoutError],
    stop_on_codes=["INVALID_EMAIL"],
)
linear_retry = RetryPolicy(max_attempts=3, backoff=LinearBackoff(initial=2.0, increment=1.0))


def main() -> None:
    """Print the decision after each failed attempt of a timing-out task."""
    timeout = ErrorInfo.from_exception(TaskTimeoutError("too slow"))
    for name, policy in (("exponential", exponential_retry), ("linear", linear_retry)):
        rng = random.Random(7)      # the jitter, made repeatable
        decisions = [decide(policy, attempt, timeout, rng) for attempt in range(1, policy.max_attempts + 1)]
        print(name, [f"{d.delay:.2f}s" if d.retry else "give up" for d in decisions])


if __name__ == "__main__":
    main()
