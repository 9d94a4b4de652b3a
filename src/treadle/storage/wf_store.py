"""The orchestration verbs of the storage contract, shared by the SQL backends.

A backend that mixes this in provides `_steps(steps, write=...)`, which runs a `wf_steps`
generator inside one transaction (read-only when `write` is False), and `_wf_now()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from typing import Any

from ..core import serde
from ..core.records import InstanceInfo
from ..errors import InstanceNotFoundError
from ..workflow import history as h
from . import wf_steps as wf


def _one(query: str, params: dict[str, Any], mode: str = "one") -> Generator[wf.Query, Any, Any]:
    return (yield (query, params, mode))


class SqlWorkflowStore(ABC):
    """Orchestration verbs on top of `_steps`; see `wf_steps` for what each transaction does."""

    @abstractmethod
    async def _steps(self, steps: Callable[[], wf.Steps], *, write: bool, durable: bool = True) -> Any:
        """Run the steps `steps()` makes in one transaction (called again if the transaction is retried).

        `durable=False`: the commit need not wait for its flush to disk (see `wf_commit`).
        """

    @abstractmethod
    def _wf_now(self) -> float:
        """The time written into history events."""

    async def _query(self, name: str, params: dict[str, Any], mode: str = "one", *, write: bool = False) -> Any:
        return await self._steps(lambda: _one(name, params, mode), write=write)

    async def wf_start(self, namespace: str, instance_id: str, name: str, input: Any) -> bool:
        """Start an instance unless one with this id exists; True if it was created."""
        return bool(await self._steps(lambda: wf.start_instance(namespace, instance_id, name, serde.to_jsonable(input),
                                                        self._wf_now()), write=True))

    async def wf_load(self, namespace: str, instance_id: str) -> wf.LoadedInstance | None:
        """The instance and its current execution's history and inbox."""
        inst = await self._steps(lambda: wf.load(namespace, instance_id, self._wf_now()), write=False)
        return None if inst is None else wf.loaded_from_rows(inst)

    async def wf_commit(self, commit: wf.DecisionCommit) -> bool:
        """Record a decision (and finish its task) atomically; False if it lost its lease or execution.

        A decision that leaves the instance running commits without waiting for the disk: were it
        lost in a power failure, the inputs it consumed are still durable and replay makes the same
        decision again. A decision that ends an execution is durable, as its output is a result.
        """
        return bool(await self._steps(lambda: wf.commit_decision(commit, self._wf_now()), write=True,
                                      durable=commit.decision.status != "running"))

    async def wf_deliver(self, namespace: str, instance_id: str, event: h.HistoryEvent) -> bool:
        """Deliver an external event or queue message; False if the instance has ended."""
        return bool(await self._steps(lambda: wf.deliver(namespace, instance_id, event, self._wf_now()), write=True))

    async def wf_terminate(self, namespace: str, instance_id: str, reason: str) -> bool:
        """Terminate a running instance and its children; False if it had already ended."""
        return bool(await self._steps(lambda: wf.terminate(namespace, instance_id, reason, self._wf_now()), write=True))

    async def wf_get(self, namespace: str, instance_id: str) -> InstanceInfo | None:
        """One instance."""
        row = await self._query("wf_get", {"namespace": namespace, "instance_id": instance_id})
        return wf.instance_from_row(row) if row else None

    async def wf_list(self, namespace: str, *, name: str | None = None, status: str | None = None,
                      limit: int = 100, offset: int = 0) -> list[InstanceInfo]:
        """Instances, newest first, optionally of one orchestration name and/or status."""
        rows = await self._query("wf_list", {"namespace": namespace, "name": name, "status": status,
                                                  "limit": limit, "offset": offset}, "all")
        return [wf.instance_from_row(r) for r in rows]

    async def wf_history(self, namespace: str, instance_id: str, execution: int | None = None
                         ) -> list[h.HistoryEvent]:
        """An execution's history (the current one by default)."""
        if execution is None:
            info = await self.wf_get(namespace, instance_id)
            if info is None:
                raise InstanceNotFoundError(instance_id)
            execution = info.execution
        rows = await self._query("wf_history", {"namespace": namespace, "instance_id": instance_id,
                                                     "execution": execution}, "all")
        return [h.HistoryEvent(r["kind"], serde.loads(r["data"])) for r in rows]

    async def wf_executions(self, namespace: str, instance_id: str) -> list[int]:
        """The execution numbers whose history is kept."""
        rows = await self._query("wf_executions", {"namespace": namespace, "instance_id": instance_id}, "all")
        return [int(r["execution"]) for r in rows]

    async def wf_children(self, namespace: str, instance_id: str) -> list[str]:
        """Ids of the sub-orchestrations an instance started."""
        rows = await self._query("wf_children", {"namespace": namespace, "instance_id": instance_id}, "all")
        return [r["instance_id"] for r in rows]

    async def wf_delete(self, namespace: str, instance_id: str) -> bool:
        """Delete an instance with its history and its children; False if there was none."""
        return bool(await self._steps(lambda: wf.delete(namespace, instance_id), write=True))

    async def wf_prune(self, namespace: str, instance_id: str, keep_last: int) -> int:
        """Delete the history of all but the last `keep_last` executions; return how many events went."""
        info = await self.wf_get(namespace, instance_id)
        if info is None:
            raise InstanceNotFoundError(instance_id)
        below = info.execution - max(1, keep_last)
        return int(await self._query("wf_prune", {"namespace": namespace, "instance_id": instance_id,
                                                       "below": below}, "count", write=True))

    async def wf_metrics(self, namespace: str) -> dict[str, Any]:
        """Instances by status, and pending/running tasks by name (the queue depths)."""
        statuses = await self._query("wf_status_counts", {"namespace": namespace}, "all")
        tasks = await self._query("wf_task_counts", {"namespace": namespace}, "all")
        depths: dict[str, dict[str, int]] = {}
        for row in tasks:
            depths.setdefault(row["name"], {"pending": 0, "running": 0})[row["status"]] = int(row["n"])
        return {"instances": {r["status"]: int(r["n"]) for r in statuses}, "queues": depths}
