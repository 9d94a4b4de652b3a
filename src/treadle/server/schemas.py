"""The REST API's request bodies: strict models, so a malformed request is a 422 naming the field.

Responses reuse the storage contract's own dataclasses (`TaskInfo`, `InstanceInfo`), so the
API and the Python client can never disagree about what a task looks like.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = Field(min_length=1, max_length=500)


class Strict(BaseModel):
    """Unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")


class TaskSubmission(Strict):
    """One task to enqueue; omitted options take the defaults a `Client` would use."""

    id: str | None = Field(default=None, min_length=1, max_length=200,
                           description="Client-chosen id (a retried request with the same id creates nothing new).")
    name: str = Field(min_length=1, max_length=200)
    namespace: str | None = Field(default=None,
                                  description="The task's namespace if not the URL's (the credential must own it).")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    delay_seconds: float = Field(default=0.0, ge=0, le=10 * 365 * 86_400)
    run_at: float | None = Field(default=None, ge=0, le=1e11)
    timeout_seconds: float | None = Field(default=None, gt=0, le=10 * 365 * 86_400)
    retry_policy: dict[str, Any] | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=1_000_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SubmitRequest(Strict):
    """Tasks to enqueue in one transaction: all are stored, or none."""

    tasks: list[TaskSubmission] = Field(min_length=1, max_length=10_000)


class Submitted(BaseModel):
    """The id a submission got; `created` is False when its idempotency key (or id) existed."""

    task_id: str
    created: bool


class SubmitResponse(BaseModel):
    """One entry per submitted task, in order."""

    tasks: list[Submitted]


class StartOrchestration(Strict):
    """Start an orchestration instance (idempotent per instance id)."""

    instance_id: str = _ID
    name: str = Field(min_length=1, max_length=200)
    input: Any = None


class EventRequest(Strict):
    """An external event (`wait_for_event(name)`) or a queue message (`dequeue_event(name)`)."""

    name: str = _ID
    data: Any = None


class TerminateRequest(Strict):
    """Why an instance is terminated."""

    reason: str = Field(default="terminated", max_length=2000)


class PruneRequest(Strict):
    """How many of the latest executions keep their history."""

    keep_last: int = Field(default=1, ge=1, le=1_000_000)


class Flag(BaseModel):
    """A yes/no answer (`created`, `delivered`, `terminated`, `deleted`)."""

    ok: bool


class Count(BaseModel):
    """How many things an operation touched."""

    count: int


class Event(BaseModel):
    """One history event: its kind and its JSON data."""

    kind: str
    data: dict[str, Any]


class ErrorDetail(BaseModel):
    """What went wrong: the error's type (e.g. TaskNotFoundError) and a message for people."""

    type: str
    message: str
    task_id: str | None = None
    instance_id: str | None = None


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer has this body."""

    error: ErrorDetail


class WorkerView(BaseModel):
    """A worker connected to this server."""

    worker_id: str
    namespace: str | None
    resource_info: dict[str, Any]
    connected_at: float
    address: str | None
    running: list[str]
