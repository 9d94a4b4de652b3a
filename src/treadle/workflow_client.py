"""Driving orchestrations from a client: start, wait, signal, inspect, clean up.

`AsyncClient` and `Client` both have these methods (the sync ones block). Orchestrations need a
backend that stores history: SQLite or PostgreSQL.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .core import serde
from .core.records import InstanceInfo
from .core.routing import validate_name
from .errors import ConfigurationError, InstanceNotFoundError, WaitTimeoutError
from .storage.changes import INSTANCES
from .workflow import history as h

if TYPE_CHECKING:
    from .storage.wf_store import SqlWorkflowStore

_FALLBACK_POLL_SECONDS = 0.5
_MAX_ID_LENGTH = 500


def check_text(value: Any, what: str) -> str:
    """Ids and event names are keys in history and in the store: non-empty strings of sane length."""
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_LENGTH:
        raise ConfigurationError(f"{what} must be a non-empty string of at most {_MAX_ID_LENGTH} characters, "
                                 f"not {value!r}")
    return value


class AsyncOrchestrationMethods:
    """The orchestration half of `AsyncClient`."""

    namespace: str

    async def _store(self) -> Any:  # provided by AsyncClient
        raise ConfigurationError("not a client")

    async def _wf(self) -> SqlWorkflowStore:
        store = await self._store()
        if not hasattr(store, "wf_start"):
            raise ConfigurationError(f"{store.url} cannot run orchestrations: use a SQLite or PostgreSQL URL")
        return store  # type: ignore[no-any-return]

    async def start_orchestration(self, instance_id: str, name: str, input: Any = None) -> bool:
        """Start `name` as `instance_id`; an existing instance with that id is left alone (returns False).

        The client cannot know which orchestrations the workers register: an instance of a name
        no worker registers waits (its first decision pending, like a task no worker runs) until one does.
        """
        check_text(instance_id, "an orchestration instance id")
        validate_name(name, "orchestration name")
        return await (await self._wf()).wf_start(self.namespace, instance_id, name,
                                                 serde.to_jsonable(input, what="the orchestration input"))

    async def get_orchestration(self, instance_id: str) -> InstanceInfo:
        """The instance's status, output or error, and custom status; `InstanceNotFoundError` if none."""
        info = await (await self._wf()).wf_get(self.namespace, instance_id)
        if info is None:
            raise InstanceNotFoundError(instance_id)
        return info

    async def wait_for_orchestration(self, instance_id: str, timeout: float | None = None) -> InstanceInfo:
        """Wait until the instance completed, failed or was terminated; `WaitTimeoutError` after `timeout` s."""
        return await self._wait(instance_id, timeout, lambda info: info.is_finished)

    async def wait_for_status_change(self, instance_id: str, last_version: int,
                                     timeout: float | None = None) -> InstanceInfo:
        """Wait until the custom status version passes `last_version` (or the instance ends)."""
        return await self._wait(instance_id, timeout,
                                lambda info: info.custom_status_version > last_version or info.is_finished)

    async def _wait(self, instance_id: str, timeout: float | None, done: Any) -> InstanceInfo:
        store = await self._wf()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            token = store.change_token(INSTANCES)  # type: ignore[attr-defined]
            info = await self.get_orchestration(instance_id)
            if done(info):
                return info
            remaining = _FALLBACK_POLL_SECONDS
            if deadline is not None:
                remaining = min(remaining, deadline - time.monotonic())
                if remaining <= 0:
                    raise WaitTimeoutError(f"orchestration {instance_id} is still {info.status} after {timeout}s")
            await store.wait_for_change(token, remaining, INSTANCES)  # type: ignore[attr-defined]

    async def raise_event(self, instance_id: str, name: str, data: Any = None) -> bool:
        """Send an external event; kept until the orchestration waits for it. False if it has ended."""
        check_text(instance_id, "an orchestration instance id")
        check_text(name, "an event name")
        event = h.HistoryEvent(h.EVENT_RAISED, {"name": name, "data": serde.to_jsonable(data, what="event data")})
        return await (await self._wf()).wf_deliver(self.namespace, instance_id, event)

    async def enqueue_event(self, instance_id: str, queue: str, data: Any = None) -> bool:
        """Append a message to a persistent FIFO queue read with `ctx.dequeue_event(queue)`."""
        check_text(instance_id, "an orchestration instance id")
        check_text(queue, "a queue name")
        event = h.HistoryEvent(h.EVENT_QUEUED, {"name": queue, "data": serde.to_jsonable(data, what="queue data")})
        return await (await self._wf()).wf_deliver(self.namespace, instance_id, event)

    async def terminate_orchestration(self, instance_id: str, reason: str = "terminated") -> bool:
        """Stop an instance now (its running children too; its open activities are cancelled).

        This is also how an orchestration is cancelled. False if it had already ended.
        """
        return await (await self._wf()).wf_terminate(self.namespace, instance_id, reason)

    async def list_orchestrations(self, *, name: str | None = None, status: str | None = None,
                                  limit: int = 100, offset: int = 0) -> list[InstanceInfo]:
        """Instances, newest first, filtered by orchestration name and status."""
        if status is not None and status not in ("running", "completed", "failed", "terminated"):
            raise ConfigurationError(f"unknown status {status!r}: use running, completed, failed or terminated")
        return await (await self._wf()).wf_list(self.namespace, name=name, status=status, limit=limit,
                                                offset=offset)

    async def orchestration_tree(self, instance_id: str) -> dict[str, Any]:
        """The instance and its sub-orchestrations, recursively: {"instance_id", "status", "children": [...]}."""
        store = await self._wf()
        info = await self.get_orchestration(instance_id)
        children = [await self.orchestration_tree(child) for child in await store.wf_children(self.namespace,
                                                                                            instance_id)]
        return {"instance_id": info.instance_id, "name": info.name, "status": info.status, "children": children}

    async def list_executions(self, instance_id: str) -> list[int]:
        """The execution numbers (1, 2, ... one per continue-as-new) whose history is kept."""
        await self.get_orchestration(instance_id)
        return await (await self._wf()).wf_executions(self.namespace, instance_id)

    async def read_history(self, instance_id: str, execution: int | None = None) -> list[h.HistoryEvent]:
        """An execution's history events (`kind`, `data`); the current execution by default."""
        return await (await self._wf()).wf_history(self.namespace, instance_id, execution)

    async def delete_orchestration(self, instance_id: str) -> bool:
        """Delete an instance, its history and its children (terminate it first if it runs)."""
        store = await self._wf()
        info = await self.get_orchestration(instance_id)
        if not info.is_finished:
            await store.wf_terminate(self.namespace, instance_id, "deleted")
        return await store.wf_delete(self.namespace, instance_id)

    async def prune_executions(self, instance_id: str, keep_last: int = 1) -> int:
        """Drop the history of all but the last `keep_last` executions; returns the number of events removed."""
        if keep_last < 1:
            raise ConfigurationError("keep_last must be at least 1")
        return await (await self._wf()).wf_prune(self.namespace, instance_id, keep_last)

    async def system_metrics(self) -> dict[str, Any]:
        """Instances by status and queue depths (pending/running tasks by name) in this namespace."""
        return await (await self._wf()).wf_metrics(self.namespace)


class OrchestrationMethods:
    """The orchestration half of the synchronous `Client` (each call blocks)."""

    def _call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        # `Client` holds the async client and the portal that runs it
        async_client, portal = getattr(self, "_async"), getattr(self, "_portal")  # noqa: B009
        return portal.call(getattr(async_client, method)(*args, **kwargs))

    def start_orchestration(self, instance_id: str, name: str, input: Any = None) -> bool:
        """See `AsyncClient.start_orchestration`."""
        return bool(self._call("start_orchestration", instance_id, name, input))

    def get_orchestration(self, instance_id: str) -> InstanceInfo:
        """See `AsyncClient.get_orchestration`."""
        return self._call("get_orchestration", instance_id)  # type: ignore[no-any-return]

    def wait_for_orchestration(self, instance_id: str, timeout: float | None = None) -> InstanceInfo:
        """See `AsyncClient.wait_for_orchestration`."""
        return self._call("wait_for_orchestration", instance_id, timeout)  # type: ignore[no-any-return]

    def wait_for_status_change(self, instance_id: str, last_version: int, timeout: float | None = None
                               ) -> InstanceInfo:
        """See `AsyncClient.wait_for_status_change`."""
        return self._call("wait_for_status_change", instance_id, last_version, timeout)  # type: ignore[no-any-return]

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> bool:
        """See `AsyncClient.raise_event`."""
        return bool(self._call("raise_event", instance_id, name, data))

    def enqueue_event(self, instance_id: str, queue: str, data: Any = None) -> bool:
        """See `AsyncClient.enqueue_event`."""
        return bool(self._call("enqueue_event", instance_id, queue, data))

    def terminate_orchestration(self, instance_id: str, reason: str = "terminated") -> bool:
        """See `AsyncClient.terminate_orchestration`."""
        return bool(self._call("terminate_orchestration", instance_id, reason))

    def list_orchestrations(self, **filters: Any) -> list[InstanceInfo]:
        """See `AsyncClient.list_orchestrations`."""
        return self._call("list_orchestrations", **filters)  # type: ignore[no-any-return]

    def orchestration_tree(self, instance_id: str) -> dict[str, Any]:
        """See `AsyncClient.orchestration_tree`."""
        return self._call("orchestration_tree", instance_id)  # type: ignore[no-any-return]

    def list_executions(self, instance_id: str) -> list[int]:
        """See `AsyncClient.list_executions`."""
        return self._call("list_executions", instance_id)  # type: ignore[no-any-return]

    def read_history(self, instance_id: str, execution: int | None = None) -> list[h.HistoryEvent]:
        """See `AsyncClient.read_history`."""
        return self._call("read_history", instance_id, execution)  # type: ignore[no-any-return]

    def delete_orchestration(self, instance_id: str) -> bool:
        """See `AsyncClient.delete_orchestration`."""
        return bool(self._call("delete_orchestration", instance_id))

    def prune_executions(self, instance_id: str, keep_last: int = 1) -> int:
        """See `AsyncClient.prune_executions`."""
        return int(self._call("prune_executions", instance_id, keep_last))

    def system_metrics(self) -> dict[str, Any]:
        """See `AsyncClient.system_metrics`."""
        return self._call("system_metrics")  # type: ignore[no-any-return]
