"""duroxide's `Client`: start, signal, wait for and manage orchestration instances.

Each call is the treadle `Client` method of the same meaning; times are milliseconds, as in
duroxide. Errors are treadle's: `WaitTimeoutError` (a `TimeoutError`) when a wait runs out,
`InstanceNotFoundError` for an unknown instance, `ConfigurationError` for a malformed argument.
"""

from __future__ import annotations

import weakref
from typing import Any

from ...client import Client as TreadleClient
from ...core.records import InstanceInfo as TreadleInstance
from ...errors import ConfigurationError, InstanceNotFoundError, InvalidStateError, WaitTimeoutError
from ...storage.wf_steps import DECISION_PREFIX, TIMER_TASK
from .providers import Provider, provider_url
from .results import (
    TREADLE_STATUSES,
    DeleteInstanceResult,
    Event,
    InstanceInfo,
    InstanceTree,
    OrchestrationResult,
    PruneOptions,
    PruneResult,
    QueueDepths,
    SystemMetrics,
)

__all__ = ["Client"]

_PAGE = 1000


def _seconds(ms: Any, what: str) -> float:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0:
        raise ConfigurationError(f"{what} is a number of milliseconds >= 0, got {ms!r}")
    return float(ms) / 1000.0


class Client:
    """Drives orchestration instances on a provider, from any thread or process."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._client = TreadleClient(provider_url(provider))
        self._closed = weakref.finalize(self, self._client.close)

    def close(self) -> None:
        """Release the connection (done at exit otherwise)."""
        self._closed()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ instances

    def start_orchestration(self, instance_id: str, name: str, input: Any = None) -> None:
        """Start `name` as `instance_id` (an existing instance with that id is left as it is)."""
        self._client.start_orchestration(instance_id, name, input)

    def get_status(self, instance_id: str) -> OrchestrationResult:
        """The instance's status, output, error and custom status; status `NotFound` if there is none."""
        try:
            return OrchestrationResult.of(self._client.get_orchestration(instance_id))
        except InstanceNotFoundError:
            return OrchestrationResult(status="NotFound")

    def wait_for_orchestration(self, instance_id: str, timeout_ms: int = 30_000) -> OrchestrationResult:
        """Wait until the instance completed or failed; `WaitTimeoutError` after `timeout_ms`."""
        seconds = _seconds(timeout_ms, "timeout_ms")
        return OrchestrationResult.of(self._client.wait_for_orchestration(instance_id, seconds))

    def wait_for_status_change(self, instance_id: str, last_seen_version: int = 0, poll_interval_ms: int = 200,
                               timeout_ms: int = 30_000) -> OrchestrationResult | None:
        """Wait until the custom status version passes `last_seen_version` (or the instance ends); None on timeout.

        treadle is told of changes as they commit, so `poll_interval_ms` is only checked, not needed.
        """
        _seconds(poll_interval_ms, "poll_interval_ms")
        seconds = _seconds(timeout_ms, "timeout_ms")
        try:
            return OrchestrationResult.of(self._client.wait_for_status_change(instance_id, last_seen_version, seconds))
        except WaitTimeoutError:
            return None

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Send an external event, kept until the orchestration waits for it."""
        self._client.raise_event(instance_id, event_name, data)

    def enqueue_event(self, instance_id: str, queue_name: str, data: Any = None) -> None:
        """Append a message to the instance's FIFO queue `queue_name` (`ctx.dequeue_event`)."""
        self._client.enqueue_event(instance_id, queue_name, data)

    def cancel_instance(self, instance_id: str, reason: str | None = None) -> None:
        """Stop the instance and its sub-orchestrations; it ends `Failed` with the reason."""
        self._client.terminate_orchestration(instance_id, reason or "canceled")

    # ------------------------------------------------------------ admin

    def get_system_metrics(self) -> SystemMetrics:
        """How many instances there are, by status."""
        counts: dict[str, int] = self._client.system_metrics()["instances"]
        return SystemMetrics(total_instances=sum(counts.values()), running_instances=counts.get("running", 0),
                             completed_instances=counts.get("completed", 0),
                             failed_instances=counts.get("failed", 0) + counts.get("terminated", 0))

    def get_queue_depths(self) -> QueueDepths:
        """How much work waits to be claimed, by kind."""
        queues: dict[str, dict[str, int]] = self._client.system_metrics()["queues"]
        depth = {name: counts.get("pending", 0) for name, counts in queues.items()}
        decisions = sum(n for name, n in depth.items() if name.startswith(DECISION_PREFIX))
        timers = depth.get(TIMER_TASK, 0)
        return QueueDepths(orchestrator_queue=decisions, timer_queue=timers,
                           worker_queue=sum(depth.values()) - decisions - timers)

    def list_all_instances(self) -> list[str]:
        """Every instance id, newest first."""
        return [info.instance_id for info in self._list(None)]

    def list_instances_by_status(self, status: str) -> list[str]:
        """Ids of the instances in one duroxide status: `Running`, `Completed` or `Failed`."""
        if status not in TREADLE_STATUSES:
            raise ConfigurationError(f"unknown status {status!r}: use Running, Completed or Failed")
        return [info.instance_id for s in TREADLE_STATUSES[status] for info in self._list(s)]

    def _list(self, status: str | None) -> list[TreadleInstance]:
        found: list[TreadleInstance] = []
        while True:
            page = self._client.list_orchestrations(status=status, limit=_PAGE, offset=len(found))
            found.extend(page)
            if len(page) < _PAGE:
                return found

    def get_instance_info(self, instance_id: str) -> InstanceInfo:
        """One instance's name, status, execution and times; `InstanceNotFoundError` if there is none."""
        return InstanceInfo.of(self._client.get_orchestration(instance_id))

    def get_instance_tree(self, instance_id: str) -> InstanceTree:
        """The instance and its sub-orchestrations, recursively."""
        ids: list[str] = []
        pending = [self._client.orchestration_tree(instance_id)]
        while pending:
            node = pending.pop(0)
            ids.append(node["instance_id"])
            pending.extend(node["children"])
        return InstanceTree(root_id=instance_id, all_ids=ids)

    def list_executions(self, instance_id: str) -> list[int]:
        """The execution ids (1, 2, ... one per continue-as-new) whose history is kept."""
        return self._client.list_executions(instance_id)

    def read_execution_history(self, instance_id: str, execution_id: int) -> list[Event]:
        """One execution's history events, each with `kind` and `data` (JSON text)."""
        self._client.get_orchestration(instance_id)
        events = self._client.read_history(instance_id, execution_id)
        return [Event.of(position, event) for position, event in enumerate(events, 1)]

    def delete_instance(self, instance_id: str, force: bool = False) -> DeleteInstanceResult:
        """Delete an ended instance with its history and sub-orchestrations; `force` deletes a running one too."""
        info = self._client.get_orchestration(instance_id)
        if not info.is_finished and not force:
            raise InvalidStateError(f"instance {instance_id} is still running: cancel it first or pass force=True")
        size = self.get_instance_tree(instance_id).size
        deleted = self._client.delete_orchestration(instance_id)
        return DeleteInstanceResult(instances_deleted=size if deleted else 0)

    def prune_executions(self, instance_id: str, options: PruneOptions | None = None) -> PruneResult:
        """Drop the history of old executions, keeping the last `options.keep_last` (an unknown id prunes nothing)."""
        options = options if options is not None else PruneOptions()
        if not isinstance(options, PruneOptions):
            raise ConfigurationError(f"prune_executions takes PruneOptions(keep_last=...), got {options!r}")
        if options.completed_before is not None:
            raise ConfigurationError("PruneOptions(completed_before=...) is not supported: treadle prunes by keep_last")
        try:
            before = self._client.list_executions(instance_id)
        except InstanceNotFoundError:
            return PruneResult(instances_processed=0, executions_deleted=0, events_deleted=0)
        events = self._client.prune_executions(instance_id, 1 if options.keep_last is None else options.keep_last)
        after = self._client.list_executions(instance_id)
        return PruneResult(instances_processed=1, executions_deleted=len(before) - len(after), events_deleted=events)
