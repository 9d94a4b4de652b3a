"""Turning a stored `tasks` row into records, for the SQL backends.

SQLite hands back JSON columns as text, PostgreSQL (jsonb) as Python values: `decode`
says which, so both backends share one mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..core import serde
from ..core.records import ClaimedTask, ErrorInfo, LeaseRef, Progress, TaskInfo
from ..core.states import TaskStatus

Decode = Callable[[Any], Any]


class Row(Protocol):
    """Anything indexable by column name (`sqlite3.Row`, a psycopg dict row)."""

    def __getitem__(self, key: str) -> Any: ...


def as_text_json(value: Any) -> Any:
    """Decode a JSON column stored as text (SQLite)."""
    return serde.loads(value)


def as_value(value: Any) -> Any:
    """A JSON column the driver already decoded (PostgreSQL jsonb)."""
    return value


def info_from_row(row: Row, decode: Decode) -> TaskInfo:
    """A `TaskInfo` from a full `tasks` row."""
    progress = decode(row["progress"])
    error = decode(row["error"])
    return TaskInfo(
        id=row["id"], namespace=row["namespace"], name=row["name"], status=TaskStatus(row["status"]),
        args=decode(row["args"]), kwargs=decode(row["kwargs"]), priority=row["priority"],
        attempts=row["attempts"], max_attempts=row["max_attempts"], retry_policy=decode(row["retry_policy"]),
        timeout_seconds=row["timeout_seconds"], run_after=row["run_after"], created_at=row["created_at"],
        updated_at=row["updated_at"], started_at=row["started_at"], finished_at=row["finished_at"],
        result=decode(row["result"]), error=ErrorInfo.from_dict(error) if error else None,
        errors=[ErrorInfo.from_dict(e) for e in decode(row["errors"])],
        progress=Progress.from_dict(progress) if progress else None, metadata=decode(row["metadata"]),
        idempotency_key=row["idempotency_key"], cancel_requested=bool(row["cancel_requested"]),
        worker_id=row["worker_id"], lease_expires=row["lease_expires"])


# The columns every claim query returns, in this order (both dialects' `queries.sql`), so that a
# claimed row is read by position: a few hundred rows per claim, on a worker's busiest path.
CLAIMED_COLUMNS = ("id", "namespace", "name", "args", "kwargs", "attempts", "max_attempts", "retry_policy",
                   "timeout_seconds", "metadata", "priority", "lease_token", "lease_expires", "wf_instance",
                   "session_id")


def claimed_from_row(row: Sequence[Any], decode: Decode) -> ClaimedTask:
    """A `ClaimedTask` from the columns a claim returns (`CLAIMED_COLUMNS`, by position)."""
    (task_id, namespace, name, args, kwargs, attempts, max_attempts, retry_policy, timeout_seconds, metadata,
     priority, token, lease_expires, wf_instance) = row[:14]
    return ClaimedTask(
        lease=LeaseRef(task_id, token, attempts, wf_instance is not None), namespace=namespace,
        name=name, args=decode(args), kwargs=decode(kwargs), max_attempts=max_attempts,
        retry_policy=decode(retry_policy), timeout_seconds=timeout_seconds, metadata=decode(metadata),
        priority=priority, lease_expires=lease_expires)
