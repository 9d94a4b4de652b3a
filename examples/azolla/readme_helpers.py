"""What the README's error-handling examples leave to the reader: the checks they call and a database.

`$AZOLLA_EXAMPLE_FAULT` names the one that goes wrong: `service_down`, `too_slow`, `invalid_input`,
`network`, `business_rule` or `db_timeout` (unset: everything works).
"""

from __future__ import annotations

import os
from typing import Any


def _fault(name: str) -> bool:
    return os.environ.get("AZOLLA_EXAMPLE_FAULT") == name


def external_service_down() -> bool:
    """Whether the external service is down."""
    return _fault("service_down")


def processing_time_exceeded() -> bool:
    """Whether processing ran out of time."""
    return _fault("too_slow")


def invalid_input() -> bool:
    """Whether the input is invalid."""
    return _fault("invalid_input")


def network_issue() -> bool:
    """Whether the network is down."""
    return _fault("network")


def business_logic_error() -> bool:
    """Whether a business rule is violated."""
    return _fault("business_rule")


class DatabaseConnectionTimeout(Exception):
    """The database did not answer in time."""


class _Database:
    """A database with one table of users."""

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """Run a query (only `SELECT * FROM users` is known)."""
        if _fault("db_timeout"):
            raise DatabaseConnectionTimeout(f"no answer to {sql!r}")
        return [{"id": 1, "name": "Ada"}]


db = _Database()
