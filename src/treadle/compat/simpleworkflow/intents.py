"""Submitting intents: the README's retry schedule as a treadle `RetryPolicy`, and a small client that applies it.

In the seed the poller decides the schedule; in treadle the policy travels with each task, so
whoever submits an intent chooses it. `IntentClient` submits with `RETRY_POLICY`, so intents
behave as the README says whichever worker runs them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...client import Client
from ...core.retry import ExponentialBackoff, RetryPolicy
from ...core.routing import validate_name
from ...errors import ConfigurationError
from .config import check_db_url

RETRY_POLICY = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(
    initial=63.0, multiplier=4.0, max_delay=264.0, jitter=1 / 21))
"""The README's schedule: attempt 2 after 1 minute, attempt 3 after 4 minutes, each +0-10 %, then failed.

treadle's jitter spreads a delay evenly around its base, so the bases are centred on the
seed's ranges: 63 s ± 1/21 is 60-66 s, and 252 s ± 1/21 is 240-264 s.
"""


class IntentClient:
    """Submits and cancels intents (treadle tasks named by workflow type, with the payload as keywords).

    `db_url` follows the poller's rules (a PostgreSQL URL names its schema with `search_path`);
    left out, it is `$DATABASE_URL`. `client` is the underlying treadle `Client`, for waiting on
    results (`client.wait(run_id)`), reading (`client.get`) and listing.
    """

    def __init__(self, db_url: str | None = None) -> None:
        url = db_url if db_url is not None else os.environ.get("DATABASE_URL", "")
        self.db_url = check_db_url(url)
        self.client = Client(self.db_url)

    def submit(self, workflow_type: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None,
               delay_seconds: float = 0.0, retry: RetryPolicy = RETRY_POLICY) -> str:
        """Store an intent and return its run id; the same `idempotency_key` returns the first intent's id."""
        validate_name(workflow_type, "workflow type")
        if not isinstance(payload, Mapping):
            raise ConfigurationError(f"payload must be a JSON object (a dict), got {type(payload).__name__}")
        builder = self.client.submit_task(workflow_type, dict(payload)).retry_policy(retry).delay(delay_seconds)
        if idempotency_key is not None:
            builder = builder.idempotency_key(idempotency_key)
        return builder.submit().id

    def cancel(self, run_id: str) -> None:
        """Cancel a pending intent at once, or ask a running one to stop (its `run.is_cancelled()` turns true)."""
        self.client.cancel(run_id)

    def close(self) -> None:
        """Release the database connection."""
        self.client.close()

    def __enter__(self) -> IntentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
