"""treadle's error handling, the README's three cases as tasks whose failure is chosen by an argument.

Raise `TaskError` (retryable unless `retryable=False`), `TaskValidationError` (never retried) or
`TaskTimeoutError` (retried); any other exception is stored as a retryable `TaskError` named after its
class. Run this module to see what is recorded for each (on an in-memory store, one attempt each).
"""

from __future__ import annotations

import asyncio
from typing import Any

from treadle import AsyncClient, RetryPolicy, TaskError, TaskTimeoutError, TaskValidationError, Worker, task
from treadle.storage import MemoryStorage


@task
async def validate_data(data: dict[str, Any], fault: str = "") -> dict[str, Any]:
    """Validate input data."""
    if not data.get("email"):
        raise TaskValidationError("Email is required")
    if fault == "service_down":
        raise TaskError("External service unavailable", error_code="SERVICE_DOWN", error_type="ServiceUnavailable")
    if fault == "too_slow":
        raise TaskTimeoutError("Data processing took too long")
    return {"status": "valid", "data": data}


@task
async def risky_operation(fault: str = "") -> dict[str, str]:
    """Other exceptions are wrapped; a `TaskError` is kept as raised."""
    if fault == "invalid_input":
        raise ValueError("Invalid input data")
    if fault == "business_rule":
        raise TaskError("Business rule violation", retryable=False)
    return {"status": "success"}


class DatabaseError(TaskError):
    """A database error; extra keyword arguments are kept as the error's `details`."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, error_code="DATABASE_ERROR", error_type="DatabaseError", retryable=True, **details)


@task
async def query_database(fault: str = "") -> dict[str, Any]:
    """Report a timeout with context."""
    if fault == "db_timeout":
        raise DatabaseError("Database connection timeout", database="users_db", retry_count=3)
    return {"data": [{"id": 1, "name": "Ada"}]}


EMAIL = {"email": "a@b.c"}
CASES = [(validate_data, {"data": {}}), (validate_data, {"data": EMAIL, "fault": "service_down"}),
         (validate_data, {"data": EMAIL, "fault": "too_slow"}), (risky_operation, {"fault": "invalid_input"}),
         (risky_operation, {"fault": "business_rule"}), (query_database, {"fault": "db_timeout"}),
         (validate_data, {"data": EMAIL})]


async def main() -> None:
    """Run each case once and print what was stored."""
    store = MemoryStorage()
    worker = Worker(store, tasks=[validate_data, risky_operation, query_database])
    running = asyncio.create_task(worker.run())
    async with AsyncClient(store) as client:
        for fn, args in CASES:
            handle = await client.submit_task(fn, args).retry_policy(RetryPolicy.no_retry()).submit()
            result = await handle.wait(timeout=30)
            error = result.error
            print(result.value if error is None else f"{error.error_type} code={error.error_code} "
                  f"retryable={error.retryable} {error.details}: {error.message}")
    worker.stop()
    await running


if __name__ == "__main__":
    asyncio.run(main())
