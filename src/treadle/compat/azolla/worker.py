"""Azolla's single-invocation worker: `Worker.builder().register_task(...).build()`, `WorkerInvocation`,
`worker.execute(invocation)` and `worker.run_invocation(invocation)`.

Both runs go through treadle's own `Worker` (see `single`). `execute` runs one attempt in this
process against a throwaway in-memory store. `run_invocation` leases the task `invocation.task_id`
on the treadle server or database named by `shepherd_endpoint` and records its outcome there:
success, or a failure that the task's retry policy sends back to pending (`retry_delay`) or ends.
The task runs with the arguments stored with it; `args` and `kwargs` are what `execute` runs.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any

from ...core import serde
from ...core.records import DEFAULT_NAMESPACE, Failed, NewTask, Outcome, Succeeded
from ...core.registry import Registry
from ...core.retry import RetryPolicy
from ...core.task import TaskDefinition, TaskLike
from ...engine.worker import default_worker_id
from ...errors import SerializationError, TaskError
from ...settings import WorkerSettings
from ...storage import MemoryStorage, Storage, is_server_url, open_storage
from .exceptions import WorkerError
from .single import run_one


def _decode(text: str, what: str) -> Any:
    if not isinstance(text, str):
        raise WorkerError(f"{what} must be a JSON string, got {text!r}")
    try:
        return serde.loads(text) if text.strip() else None
    except SerializationError as exc:
        raise WorkerError(f"invalid {what}: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInvocation:
    """One task to run, as a shepherd describes it: id, name, arguments and where to report."""

    task_id: str
    task_name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    shepherd_endpoint: str = ""

    @classmethod
    def from_json(cls, task_id: str, task_name: str, args_json: str, kwargs_json: str,
                  shepherd_endpoint: str) -> WorkerInvocation:
        """Decode the arguments as a shepherd passes them: a JSON array (another value is one argument)
        and a JSON object; `WorkerError` naming the one that is malformed."""
        args = _decode(args_json, "args JSON")
        kwargs = _decode(kwargs_json, "kwargs JSON")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise WorkerError(f"kwargs JSON must encode an object, got {kwargs_json!r}")
        for value, what in ((task_id, "task_id"), (task_name, "task_name")):
            if not isinstance(value, str) or not value:
                raise WorkerError(f"{what} must be a non-empty string, got {value!r}")
        return cls(task_id=task_id, task_name=task_name, args=[] if args is None else
                   args if isinstance(args, list) else [args], kwargs=kwargs or {},
                   shepherd_endpoint=shepherd_endpoint)


class TaskExecutionOutcome(enum.Enum):
    """How an attempt ended."""

    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerExecution:
    """An attempt's recorded outcome: `value` on success, else `error` (a `TaskError` with the recorded
    message, type, code and retryability); `retry_delay` is set when the retry policy runs it again."""

    task_id: str
    outcome: TaskExecutionOutcome
    value: Any = None
    error: TaskError | None = None
    retry_delay: float | None = None

    @property
    def success(self) -> bool:
        """True when the attempt succeeded."""
        return self.outcome is TaskExecutionOutcome.SUCCESS

    def is_success(self) -> bool:
        """Azolla's spelling of `success`."""
        return self.success

    @classmethod
    def of(cls, outcome: Outcome) -> WorkerExecution:
        """The execution an outcome describes."""
        task_id = outcome.lease.task_id
        if isinstance(outcome, Succeeded):
            return cls(task_id=task_id, outcome=TaskExecutionOutcome.SUCCESS, value=serde.loads(outcome.result_json))
        error = outcome.error.to_exception() if outcome.error else TaskError("cancelled", error_type="Cancelled")
        return cls(task_id=task_id, outcome=TaskExecutionOutcome.FAILED, error=error,
                   retry_delay=outcome.retry_delay if isinstance(outcome, Failed) else None)


class Worker:
    """Runs single invocations of the tasks registered with it (decorated functions, `Task` classes or
    instances), in `namespace` (Azolla's domain) when it reports to a server or database."""

    def __init__(self, *, namespace: str = DEFAULT_NAMESPACE, settings: WorkerSettings | None = None) -> None:
        self.registry = Registry()
        self.namespace = namespace
        self.settings = settings

    @classmethod
    def builder(cls) -> WorkerBuilder:
        """Collect tasks, then `build()`."""
        return WorkerBuilder()

    def register_task(self, task: TaskLike) -> Worker:
        """Register a task; returns the worker."""
        self.registry.add(task)
        return self

    def task_count(self) -> int:
        """How many tasks are registered."""
        return len(self.registry)

    def _definition(self, name: str) -> TaskDefinition:
        definition = self.registry.get(name)
        if definition is None:
            known = ", ".join(sorted(self.registry.names)) or "none"
            raise WorkerError(f"no task named {name!r} is registered with this worker (registered: {known})")
        return definition

    async def execute(self, invocation: WorkerInvocation) -> WorkerExecution:
        """Run one attempt of the invocation here and now, with its own arguments; nothing is reported."""
        definition = self._definition(invocation.task_name)
        store = MemoryStorage()
        await store.enqueue([NewTask(id=invocation.task_id, name=definition.name, namespace=self.namespace,
                                     args=invocation.args, kwargs=invocation.kwargs,
                                     timeout_seconds=definition.timeout_seconds,
                                     retry_policy=RetryPolicy.no_retry().to_dict(), max_attempts=1)])
        return WorkerExecution.of(await run_one(store, definition, invocation.task_id, namespace=self.namespace,
                                                settings=self.settings))

    async def run_invocation(self, invocation: WorkerInvocation) -> WorkerExecution:
        """Run task `invocation.task_id` and record its outcome on the treadle server or database at
        `invocation.shepherd_endpoint`; `WorkerError` if that task is not pending there."""
        definition = self._definition(invocation.task_name)
        worker_id = os.environ.get("TREADLE_WORKER_ID") or default_worker_id()
        storage = self._storage(invocation.shepherd_endpoint, worker_id)
        await storage.open()
        try:
            outcome = await run_one(storage, definition, invocation.task_id, namespace=self.namespace,
                                    worker_id=worker_id, settings=self.settings)
        finally:
            await storage.close()
        return WorkerExecution.of(outcome)

    @staticmethod
    def _storage(endpoint: str, worker_id: str) -> Storage:
        if not isinstance(endpoint, str) or not endpoint:
            raise WorkerError("the invocation has no shepherd_endpoint: give the treadle URL to report to")
        if not is_server_url(endpoint):
            return open_storage(endpoint)
        # as treadle's Worker signs in: $TREADLE_WORKER_ID and $TREADLE_WORKER_TOKEN (an API key only reads)
        return open_storage(endpoint, api_key=os.environ.get("TREADLE_API_KEY"), worker_id=worker_id,
                            worker_token=os.environ.get("TREADLE_WORKER_TOKEN"))


class WorkerBuilder:
    """Collects tasks (and the domain) for a `Worker`."""

    def __init__(self) -> None:
        self._tasks: list[TaskLike] = []
        self._namespace = DEFAULT_NAMESPACE

    def register_task(self, task: TaskLike) -> WorkerBuilder:
        """Add a task; returns the builder."""
        self._tasks.append(task)
        return self

    def domain(self, namespace: str) -> WorkerBuilder:
        """Run and report in this namespace (default `default`); returns the builder."""
        self._namespace = namespace
        return self

    def build(self) -> Worker:
        """The worker, with every task registered (a clash of names is a `ConfigurationError`)."""
        worker = Worker(namespace=self._namespace)
        for task in self._tasks:
            worker.register_task(task)
        return worker
