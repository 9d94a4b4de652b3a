"""Submitting tasks and reading their fate: `AsyncClient`, and `Client`, its synchronous twin.

Both open a backend by URL (`sqlite:///treadle.db`) and offer the same methods. Submission
goes through a builder so options read as a sentence::

    handle = client.submit_task(send_email, {"to": "a@b.c"}).retry_policy(policy).priority(5).submit()
    result = handle.wait(timeout=30)
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import os
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .core import serde
from .core.ids import new_id
from .core.records import DEFAULT_NAMESPACE, ErrorInfo, NewTask, Progress, TaskInfo, TaskQuery
from .core.registry import Registry
from .core.retry import DEFAULT_POLICY, RetryPolicy
from .core.routing import validate_name
from .core.states import TaskStatus
from .core.task import TaskDefinition, TaskLike, definition_of
from .errors import ConfigurationError, TaskNotFoundError, WaitTimeoutError
from .portal import Portal
from .storage import DEFAULT_URL, Storage, is_server_url, open_storage
from .storage.changes import TASKS
from .workflow_client import AsyncOrchestrationMethods, OrchestrationMethods

H = TypeVar("H")
_LONG_POLL_SECONDS = 30.0
_FALLBACK_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """How a finished task ended: `success` and `value`, or the `error` of its last attempt."""

    task_id: str
    status: TaskStatus
    value: Any
    error: ErrorInfo | None
    attempts: int
    errors: list[ErrorInfo] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """True when the task succeeded."""
        return self.status is TaskStatus.SUCCEEDED

    def unwrap(self) -> Any:
        """The value, or raise the task's error as a `TaskError`."""
        if self.success:
            return self.value
        if self.error is not None:
            raise self.error.to_exception()
        raise ConfigurationError(f"task {self.task_id} ended {self.status.value} without an error")

    @classmethod
    def from_info(cls, info: TaskInfo) -> TaskResult:
        """The result view of a finished task."""
        return cls(task_id=info.id, status=info.status, value=info.result, error=info.error,
                   attempts=info.attempts, errors=info.errors)


def _split_args(args: Any, kwargs: Mapping[str, Any] | None) -> tuple[list[Any], dict[str, Any]]:
    if serde.is_model(args):
        args = args.model_dump(mode="json")
    positional: list[Any]
    keywords: dict[str, Any]
    if args is None:
        positional, keywords = [], {}
    elif isinstance(args, Mapping):
        positional, keywords = [], dict(args)
    elif isinstance(args, (list, tuple)):
        positional, keywords = list(args), {}
    else:
        positional, keywords = [args], {}
    keywords.update(kwargs or {})
    return (serde.to_jsonable(positional, what="the task arguments"),
            serde.to_jsonable(keywords, what="the task arguments"))


def _seconds(value: float | dt.timedelta, what: str) -> float:
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 0:
        raise ConfigurationError(f"{what} must be >= 0, got {value!r}")
    return seconds


class SubmitBuilder(Generic[H]):
    """Options for one submission; finish with `.submit()` (or pass it to `submit_many`)."""

    def __init__(self, name: str, definition: TaskDefinition | None, args: list[Any], kwargs: dict[str, Any],
                 namespace: str, submit: Callable[[SubmitBuilder[H]], H]) -> None:
        self._name = name
        self._definition = definition
        self._args = args
        self._kwargs = kwargs
        self._namespace = namespace
        self._submit = submit
        self._policy = definition.retry if definition else DEFAULT_POLICY
        self._timeout = definition.timeout_seconds if definition else None
        self._priority = definition.priority if definition else 0
        self._delay = 0.0
        self._run_at: float | None = None
        self._key: str | None = None
        self._metadata: dict[str, Any] = {}

    def retry_policy(self, policy: RetryPolicy) -> SubmitBuilder[H]:
        """Use this policy instead of the task's own."""
        if not isinstance(policy, RetryPolicy):
            raise ConfigurationError(f"retry_policy takes a RetryPolicy, got {policy!r}")
        self._policy = policy
        return self

    def idempotency_key(self, key: str) -> SubmitBuilder[H]:
        """Submitting again with the same key returns the first task instead of creating another."""
        if not isinstance(key, str) or not 0 < len(key) <= 200:
            raise ConfigurationError("an idempotency key is a string of 1 to 200 characters")
        self._key = key
        return self

    def delay(self, seconds: float | dt.timedelta) -> SubmitBuilder[H]:
        """Do not start before this long from now."""
        self._delay = _seconds(seconds, "delay")
        self._run_at = None
        return self

    def run_at(self, when: dt.datetime | float) -> SubmitBuilder[H]:
        """Do not start before this moment (an aware datetime, or Unix seconds)."""
        if isinstance(when, dt.datetime):
            if when.tzinfo is None:
                raise ConfigurationError("run_at needs a timezone-aware datetime")
            when = when.timestamp()
        self._run_at = float(when)
        return self

    def priority(self, priority: int) -> SubmitBuilder[H]:
        """Higher runs first among due tasks (default 0; negative allowed)."""
        if not isinstance(priority, int):
            raise ConfigurationError(f"priority must be an integer, got {priority!r}")
        self._priority = priority
        return self

    def timeout(self, seconds: float | dt.timedelta | None) -> SubmitBuilder[H]:
        """Limit each attempt to this long (None: no limit)."""
        self._timeout = None if seconds is None else _seconds(seconds, "timeout") or None
        return self

    def metadata(self, data: Mapping[str, Any] | None = None, **more: Any) -> SubmitBuilder[H]:
        """Attach JSON metadata, visible to the task (`ctx.metadata`) and in listings."""
        self._metadata.update(serde.to_jsonable(dict(data or {}) | more, what="the task metadata"))
        return self

    def build(self) -> NewTask:
        """The validated submission."""
        if self._definition is not None:
            self._definition.validate(self._args, self._kwargs)
        return NewTask(id=new_id(), name=self._name, namespace=self._namespace, args=self._args,
                       kwargs=self._kwargs, priority=self._priority, delay_seconds=self._delay, run_at=self._run_at,
                       timeout_seconds=self._timeout, retry_policy=self._policy.to_dict(),
                       max_attempts=self._policy.max_attempts, idempotency_key=self._key, metadata=self._metadata)

    def submit(self) -> H:
        """Store the task; returns its handle (awaitable with `AsyncClient`)."""
        return self._submit(self)


class AsyncTaskHandle:
    """A submitted task, seen from an `AsyncClient`."""

    def __init__(self, client: AsyncClient, task_id: str, since: int | None = None) -> None:
        self.client = client
        self.id = task_id
        self._since = since

    async def wait(self, timeout: float | None = None) -> TaskResult:
        """Wait for the task to finish; `WaitTimeoutError` if it has not after `timeout` seconds."""
        since, self._since = self._since, None
        return await self.client.wait(self.id, timeout, since=since)

    async def info(self) -> TaskInfo:
        """The task's current state, progress included."""
        return await self.client.get(self.id)

    async def progress(self) -> Progress | None:
        """The latest progress the task reported."""
        return (await self.client.get(self.id)).progress

    async def cancel(self) -> TaskInfo:
        """Cancel the task (see `AsyncClient.cancel`)."""
        return await self.client.cancel(self.id)

    def __repr__(self) -> str:
        return f"<AsyncTaskHandle {self.id}>"


class AsyncClient(AsyncOrchestrationMethods):
    """Submit and inspect tasks (and orchestrations) from async code: `async with AsyncClient(url) as client:`.

    `tasks` lets name-based submissions be validated and get the task's own options. `url` defaults
    to `$TREADLE_URL`, then `sqlite:///treadle.db`; a treadle server (`http://host:52710`) takes an
    `api_key` (default `$TREADLE_API_KEY`).
    """

    def __init__(self, url: str | Storage | None = None, *, namespace: str = DEFAULT_NAMESPACE,
                 tasks: Iterable[TaskLike] = (), api_key: str | None = None) -> None:
        url = url if url is not None else os.environ.get("TREADLE_URL", DEFAULT_URL)
        if api_key is None and is_server_url(url):
            api_key = os.environ.get("TREADLE_API_KEY")
        self._owns_storage = isinstance(url, str)
        self.storage: Storage = open_storage(url, api_key=api_key) if isinstance(url, str) else url
        self.namespace = namespace
        self.registry = Registry(tasks)
        self._opened = False

    async def open(self) -> AsyncClient:
        """Connect (done automatically on first use)."""
        if not self._opened:
            if self._owns_storage:
                await self.storage.open()
            self._opened = True
        return self

    async def close(self) -> None:
        """Release the connection."""
        if self._opened and self._owns_storage:
            await self.storage.close()
        self._opened = False

    async def __aenter__(self) -> AsyncClient:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _store(self) -> Storage:
        if not self._opened:
            await self.open()
        return self.storage

    def _builder(self, task: TaskLike | str, args: Any, kwargs: Mapping[str, Any] | None,
                 submit: Callable[[SubmitBuilder[H]], H]) -> SubmitBuilder[H]:
        if isinstance(task, str):
            name, definition = validate_name(task), self.registry.get(task)
        else:
            definition = definition_of(task)
            name = definition.name
        positional, keywords = _split_args(args, kwargs)
        return SubmitBuilder(name, definition, positional, keywords, self.namespace, submit)

    def submit_task(self, task: TaskLike | str, args: Any = None, *,
                    kwargs: Mapping[str, Any] | None = None) -> SubmitBuilder[Any]:
        """Start a submission of `task` (an object or its name) with `args`: a dict of keyword
        arguments, a list of positional ones, a Pydantic model, or one value. Await `.submit()`."""
        return self._builder(task, args, kwargs, self._submit_one)

    async def _submit_one(self, builder: SubmitBuilder[Any]) -> AsyncTaskHandle:
        return (await self.submit_many([builder]))[0]

    async def submit_many(self, items: Iterable[SubmitBuilder[Any] | tuple[TaskLike | str, Any]]
                          ) -> list[AsyncTaskHandle]:
        """Submit a batch in one transaction: builders, or (task, args) pairs."""
        built = [self._as_builder(item).build() for item in items]
        store = await self._store()
        since = store.change_token(TASKS)      # lets a first wait() sleep until something changes
        stored = await store.enqueue(built)
        return [AsyncTaskHandle(self, e.task_id, since) for e in stored]

    def _as_builder(self, item: SubmitBuilder[Any] | tuple[TaskLike | str, Any]) -> SubmitBuilder[Any]:
        if isinstance(item, SubmitBuilder):
            return item
        task, args = item
        return self._builder(task, args, None, self._submit_one)

    def handle(self, task_id: str) -> AsyncTaskHandle:
        """A handle for an existing task id."""
        return AsyncTaskHandle(self, task_id)

    async def get(self, task_id: str) -> TaskInfo:
        """The task's current state; `TaskNotFoundError` if there is none with this id."""
        info = await (await self._store()).get(self.namespace, task_id)
        if info is None:
            raise TaskNotFoundError(task_id)
        return info

    async def list(self, *, status: TaskStatus | str | Sequence[TaskStatus | str] | None = None,
                   name: str | None = None, created_after: dt.datetime | float | None = None,
                   created_before: dt.datetime | float | None = None, limit: int = 100,
                   offset: int = 0) -> list[TaskInfo]:
        """Tasks, newest first, filtered by status(es), name pattern (`billing.*`) and creation time."""
        return await (await self._store()).list(self.namespace, make_query(
            status=status, name=name, created_after=created_after, created_before=created_before, limit=limit,
            offset=offset))

    async def cancel(self, task_id: str) -> TaskInfo:
        """Cancel a pending task now; ask a running one to stop (it sees `is_cancelled()`)."""
        return await (await self._store()).cancel(self.namespace, task_id)

    async def workers(self) -> builtins.list[dict[str, Any]]:
        """Workers connected to the treadle server in this namespace: id, resource info, running task ids.

        Only a server knows its connections; other URLs raise `ConfigurationError`.
        """
        store = await self._store()
        if not hasattr(store, "workers"):
            raise ConfigurationError(f"only a treadle server (http://host:52710) lists its workers, not {store.url}")
        workers: builtins.list[dict[str, Any]] = await store.workers(self.namespace)
        return workers

    async def retry(self, task_id: str) -> TaskInfo:
        """Re-drive a failed or cancelled task: pending again, with a fresh set of attempts."""
        return await (await self._store()).redrive(self.namespace, task_id)

    async def wait(self, task_id: str, timeout: float | None = None, *, since: int | None = None) -> TaskResult:
        """Wait until the task is finished and return its result.

        `since` (a change token taken before the task was submitted) skips reading the task before
        anything has changed, which is all a freshly submitted task can show.
        """
        store = await self._store()
        deadline = None if timeout is None else time.monotonic() + timeout
        if hasattr(store, "wait_finished"):       # a server answers when the task ends: one request
            return await self._long_poll(store, task_id, timeout, deadline)
        if since is not None:
            await store.wait_for_change(since, _FALLBACK_POLL_SECONDS if timeout is None
                                        else min(timeout, _FALLBACK_POLL_SECONDS), TASKS)
        while True:
            token = store.change_token(TASKS)
            info = await self.get(task_id)
            if info.status.is_terminal:
                return TaskResult.from_info(info)
            remaining = _FALLBACK_POLL_SECONDS
            if deadline is not None:
                remaining = min(remaining, deadline - time.monotonic())
                if remaining <= 0:
                    raise WaitTimeoutError(f"task {task_id} is still {info.status.value} after {timeout}s")
            await store.wait_for_change(token, remaining, TASKS)


    async def _long_poll(self, store: Any, task_id: str, timeout: float | None, deadline: float | None) -> TaskResult:
        while True:
            chunk = _LONG_POLL_SECONDS if deadline is None else min(_LONG_POLL_SECONDS, deadline - time.monotonic())
            info: TaskInfo = await store.wait_finished(self.namespace, task_id, max(0.0, chunk))
            if info.status.is_terminal:
                return TaskResult.from_info(info)
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(f"task {task_id} is still {info.status.value} after {timeout}s")


def _timestamp(value: dt.datetime | float | None) -> float | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigurationError("use timezone-aware datetimes for created_after/created_before")
        return value.timestamp()
    return value


def make_query(*, status: TaskStatus | str | Sequence[TaskStatus | str] | None = None, name: str | None = None,
               created_after: dt.datetime | float | None = None, created_before: dt.datetime | float | None = None,
               limit: int = 100, offset: int = 0) -> TaskQuery:
    """Build a `TaskQuery`, with a clear error for an unknown status."""
    statuses: Sequence[TaskStatus | str] = () if status is None else (
        [status] if isinstance(status, (str, TaskStatus)) else status)
    try:
        parsed = tuple(TaskStatus(s) for s in statuses)
    except ValueError:
        raise ConfigurationError(f"unknown status in {list(statuses)!r}; use one of "
                                 f"{', '.join(s.value for s in TaskStatus)}") from None
    if not 0 < limit <= 10_000 or offset < 0:
        raise ConfigurationError("limit must be in 1..10000 and offset >= 0")
    return TaskQuery(statuses=parsed, name_pattern=name, created_after=_timestamp(created_after),
                     created_before=_timestamp(created_before), limit=limit, offset=offset)


class TaskHandle:
    """A submitted task, seen from a synchronous `Client`."""

    def __init__(self, client: Client, task_id: str, since: int | None = None) -> None:
        self.client = client
        self.id = task_id
        self._since = since

    def wait(self, timeout: float | None = None) -> TaskResult:
        """Block until the task finishes; `WaitTimeoutError` after `timeout` seconds."""
        since, self._since = self._since, None
        return self.client._portal.call(self.client._async.wait(self.id, timeout, since=since))

    def info(self) -> TaskInfo:
        """The task's current state, progress included."""
        return self.client.get(self.id)

    def progress(self) -> Progress | None:
        """The latest progress the task reported."""
        return self.client.get(self.id).progress

    def cancel(self) -> TaskInfo:
        """Cancel the task (see `Client.cancel`)."""
        return self.client.cancel(self.id)

    def __repr__(self) -> str:
        return f"<TaskHandle {self.id}>"


def _close_client(portal: Portal, client: AsyncClient) -> None:
    try:
        portal.call(client.close())
    finally:
        portal.close()


class Client(OrchestrationMethods):
    """The synchronous client: the same methods as `AsyncClient`, for scripts and sync web apps.

    It runs an `AsyncClient` on an event loop of the calling thread (see `treadle.portal`); use it as a
    context manager or call `close()`. A client left open is closed when it is garbage-collected or the
    interpreter exits, so a script that forgets `close()` still ends without warnings about pending tasks.
    """

    def __init__(self, url: str | Storage | None = None, *, namespace: str = DEFAULT_NAMESPACE,
                 tasks: Iterable[TaskLike] = (), api_key: str | None = None) -> None:
        self._async = AsyncClient(url, namespace=namespace, tasks=tasks, api_key=api_key)
        self._portal = Portal("treadle-client")
        self.namespace = namespace
        self._closer = weakref.finalize(self, _close_client, self._portal, self._async)
        try:
            self._portal.call(self._async.open())
        except BaseException:
            with contextlib.suppress(Exception):    # the open's own error is the one to report
                self._closer()
            raise

    @property
    def registry(self) -> Registry:
        """Tasks known to this client (for validating name-based submissions)."""
        return self._async.registry

    def close(self) -> None:
        """Release the connection and the loop thread (once: later calls do nothing)."""
        self._closer()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit_task(self, task: TaskLike | str, args: Any = None, *,
                    kwargs: Mapping[str, Any] | None = None) -> SubmitBuilder[TaskHandle]:
        """Start a submission (see `AsyncClient.submit_task`); `.submit()` returns a `TaskHandle`."""
        return self._async._builder(task, args, kwargs, lambda b: self.submit_many([b])[0])

    def submit_many(self, items: Iterable[SubmitBuilder[Any] | tuple[TaskLike | str, Any]]) -> list[TaskHandle]:
        """Submit a batch in one transaction."""
        handles = self._portal.call(self._async.submit_many(list(items)))
        return [TaskHandle(self, h.id, h._since) for h in handles]

    def handle(self, task_id: str) -> TaskHandle:
        """A handle for an existing task id."""
        return TaskHandle(self, task_id)

    def get(self, task_id: str) -> TaskInfo:
        """See `AsyncClient.get`."""
        return self._portal.call(self._async.get(task_id))

    def list(self, **filters: Any) -> list[TaskInfo]:
        """See `AsyncClient.list` (same keyword filters)."""
        return self._portal.call(self._async.list(**filters))

    def cancel(self, task_id: str) -> TaskInfo:
        """See `AsyncClient.cancel`."""
        return self._portal.call(self._async.cancel(task_id))

    def workers(self) -> builtins.list[dict[str, Any]]:
        """Workers connected to the treadle server (see `AsyncClient.workers`)."""
        return self._portal.call(self._async.workers())

    def retry(self, task_id: str) -> TaskInfo:
        """See `AsyncClient.retry`."""
        return self._portal.call(self._async.retry(task_id))

    def wait(self, task_id: str, timeout: float | None = None) -> TaskResult:
        """See `AsyncClient.wait`."""
        return self._portal.call(self._async.wait(task_id, timeout))
