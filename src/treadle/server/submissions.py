"""Submitting and reading tasks for a remote client, over REST or the WebSocket alike.

The server checks what it can know: names, namespaces, retry policies, and, for the tasks
imported with `--tasks`, the arguments against the task's own model; a submission that fails
any check is refused whole, before anything is stored. Both transports call these functions,
so a submission gets the same checks and the same answer whichever way it arrives.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..core.ids import new_id
from ..core.records import NewTask, TaskInfo
from ..core.registry import Registry
from ..core.retry import DEFAULT_POLICY, RetryPolicy
from ..core.routing import validate_name
from ..errors import ConfigurationError, TaskNotFoundError, UnknownTaskError
from ..storage.base import Enqueued, Storage
from ..storage.changes import TASKS
from .auth import Principal
from .schemas import SubmitRequest, TaskSubmission

if TYPE_CHECKING:
    from .app import ServerState


def _policy(item: TaskSubmission, default: RetryPolicy) -> RetryPolicy:
    if item.retry_policy is None:
        policy = default if item.max_attempts is None else RetryPolicy(max_attempts=item.max_attempts,
                                                                        backoff=default.backoff)
    else:
        attempts = item.retry_policy.get("max_attempts", 3)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 1_000_000:
            raise ConfigurationError(f"retry_policy.max_attempts must be an integer in 1..1000000, got {attempts!r}")
        try:
            policy = RetryPolicy.from_dict(item.retry_policy)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigurationError(f"invalid retry_policy: {exc}") from None
    if item.max_attempts is not None and item.max_attempts != policy.max_attempts:
        raise ConfigurationError(f"max_attempts ({item.max_attempts}) differs from the retry policy's "
                                 f"({policy.max_attempts}): give one of them")
    return policy


def to_new_task(item: TaskSubmission, namespace: str, registry: Registry, *, strict_names: bool) -> NewTask:
    """The task to store for `item` in `namespace`: the item's own, or else the URL's (the caller checks both
    against its credential)."""
    name = validate_name(item.name)
    definition = registry.get(name)
    if definition is None and strict_names and registry.handler_for(name) is None:
        raise UnknownTaskError(f"unknown task name {name!r}: this server knows {', '.join(registry.names)}")
    args, kwargs = item.args, item.kwargs
    if definition is not None:
        definition.validate(args, kwargs)
    policy = _policy(item, definition.retry if definition is not None else DEFAULT_POLICY)
    timeout = item.timeout_seconds if item.timeout_seconds is not None else (
        definition.timeout_seconds if definition is not None else None)
    priority = item.priority if item.priority or definition is None else definition.priority
    return NewTask(id=item.id or new_id(), name=name, namespace=namespace, args=args, kwargs=kwargs,
                   priority=priority, delay_seconds=item.delay_seconds, run_at=item.run_at,
                   timeout_seconds=timeout, retry_policy=policy.to_dict(), max_attempts=policy.max_attempts,
                   idempotency_key=item.idempotency_key, metadata=item.metadata)


async def submit(state: ServerState, who: Principal, namespace: Any, body: SubmitRequest) -> list[Enqueued]:
    """Store `body`'s tasks in one transaction, each in the namespace its credential may use."""
    ns = who.scope(namespace)
    targets = [who.scope(item.namespace or ns) for item in body.tasks]     # every item's, before anything else
    tasks = [to_new_task(item, target, state.registry, strict_names=state.strict_names)
             for item, target in zip(body.tasks, targets, strict=True)]
    stored = await state.storage.enqueue(tasks)
    for task, e in zip(tasks, stored, strict=True):
        if e.created:
            state.metrics.submitted.labels(task.name).inc()
    return stored


async def read_task(storage: Storage, namespace: str, task_id: str, wait: float, since: int | None = None) -> TaskInfo:
    """The task, once finished or after `wait` seconds (a long poll), whichever comes first.

    `since`, a change token of this server's store taken before the task was submitted, skips
    the first read while nothing has finished since: all it could show is the task unfinished.
    """
    deadline = time.monotonic() + wait
    if since is not None and wait > 0:
        await storage.wait_for_change(since, wait, TASKS)
    while True:
        token = storage.change_token(TASKS)
        info = await storage.get(namespace, task_id)
        if info is None:
            raise TaskNotFoundError(task_id)
        remaining = deadline - time.monotonic()
        if info.status.is_terminal or remaining <= 0:
            return info
        await storage.wait_for_change(token, remaining, TASKS)
