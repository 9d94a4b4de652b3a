"""Azolla README, "Error Handling": its three examples (imports changed; the helpers they call come
from `readme_helpers`, where `$AZOLLA_EXAMPLE_FAULT` picks what goes wrong)."""

from __future__ import annotations

from treadle.compat.azolla import azolla_task
from treadle.compat.azolla.exceptions import TaskError, TaskTimeoutError, TaskValidationError

from .readme_helpers import (
    DatabaseConnectionTimeout,
    business_logic_error,
    db,
    external_service_down,
    invalid_input,
    network_issue,
    processing_time_exceeded,
)


@azolla_task
async def validate_data(data: dict) -> dict:
    """Validate input data."""
    if not data.get("email"):
        # Non-retryable validation error
        raise TaskValidationError("Email is required")

    if external_service_down():
        # Retryable error with custom type
        raise TaskError(
            "External service unavailable",
            error_code="SERVICE_DOWN",
            error_type="ServiceUnavailable",
            retryable=True
        )

    if processing_time_exceeded():
        # Timeout error (retryable by default)
        raise TaskTimeoutError("Data processing took too long")

    return {"status": "valid", "data": data}


@azolla_task
async def risky_operation() -> dict:
    """Example showing automatic wrapping."""

    # These exceptions will be automatically wrapped:
    if invalid_input():
        raise ValueError("Invalid input data")  # → TaskError(error_type="ValueError", retryable=True)

    if network_issue():
        raise ConnectionError("Network unavailable")  # → TaskError(error_type="ConnectionError", retryable=True)

    # This is preserved as-is (recommended):
    if business_logic_error():
        raise TaskError("Business rule violation", retryable=False)

    return {"status": "success"}


class DatabaseError(TaskError):
    """Custom database-related error."""
    def __init__(self, message: str, **extra_data):
        super().__init__(
            message,
            error_code="DATABASE_ERROR",
            error_type="DatabaseError",
            retryable=True,
            **extra_data
        )


@azolla_task
async def query_database() -> dict:
    try:
        result = await db.query("SELECT * FROM users")
        return {"data": result}
    except DatabaseConnectionTimeout:
        # Custom error with additional context
        raise DatabaseError("Database connection timeout",
                          database="users_db",
                          retry_count=3)
