"""The Azolla facade on real backends: a client that submits, and single invocations that lease one task by
id, run it on treadle's worker and record its outcome on SQLite, PostgreSQL or a treadle server (with
authentication on: a client key for the client, worker credentials for the worker, read from the
environment as treadle reads them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer
from pydantic import BaseModel

from treadle import AsyncClient, ConfigurationError, StorageError, TaskStatus, current_context
from treadle.compat.azolla import (
    Client,
    ClientConfig,
    Task,
    TaskExecutionOutcome,
    Worker,
    WorkerError,
    WorkerInvocation,
    azolla_task,
)
from treadle.compat.azolla.exceptions import TaskError, TaskValidationError
from treadle.compat.azolla.retry import FixedBackoff, RetryPolicy
from treadle.core import signing
from treadle.core.records import TaskInfo
from treadle.settings import ServerSettings, WorkerSettings
from treadle.storage import open_storage

FAST = WorkerSettings(lease_seconds=5, heartbeat_seconds=0.5, poll_seconds=0.5, sweep_seconds=0.2,
                      cancel_check_seconds=0.1)


@azolla_task
async def greet_user(name: str, language: str = "en") -> str:
    return f"{'Bonjour' if language == 'fr' else 'Hello'}, {name}!"


@azolla_task
async def flaky(n: int) -> int:
    raise ConnectionError(f"Network unavailable for {n}")


@azolla_task
async def bad_email(to: str) -> None:
    raise TaskError(f"bad address {to!r}", error_code="INVALID_EMAIL")


GATES: dict[str, asyncio.Event] = {}


@azolla_task
async def gated(key: str) -> str:
    """Reports progress, then waits until the test opens its gate (or the worker interrupts it)."""
    current_context().progress(50, "half way")
    await GATES[key].wait()
    return "opened"


class SumTask(Task):
    class Args(BaseModel):
        a: int
        b: int

    async def execute(self, args: Args) -> int:
        return args.a + args.b


@dataclass
class Backend:
    """Where tasks live: the URL the client and the worker both use."""

    url: str


@pytest.fixture(params=["sqlite", "postgres", "server"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[Backend]:
    """SQLite, PostgreSQL, or a treadle server over SQLite with credentials in the environment."""
    if request.param == "sqlite":
        yield Backend(f"sqlite:///{tmp_path / 'azolla.db'}")
    elif request.param == "postgres":
        yield Backend(request.getfixturevalue("pg_url"))
    else:
        store = open_storage(f"sqlite:///{tmp_path / 'server.db'}")
        await store.open()
        key, secret = signing.new_api_key(), signing.new_worker_secret()
        await store.add_credential("client", "app", "default", key_hash=signing.hash_key(key))  # type: ignore[attr-defined]
        await store.add_credential("worker", "shepherd-1", "default", secret=secret)  # type: ignore[attr-defined]
        server = LiveServer(store, ServerSettings()).start()
        monkeypatch.setenv("TREADLE_API_KEY", key)
        monkeypatch.setenv("TREADLE_WORKER_ID", "shepherd-1")
        monkeypatch.setenv("TREADLE_WORKER_TOKEN", secret)
        try:
            yield Backend(server.url)
        finally:
            server.stop()


def worker(*tasks: Any) -> Worker:
    w = Worker(settings=FAST)
    for t in tasks:
        w.register_task(t)
    return w


def invocation(task_id: str, name: str, url: str) -> WorkerInvocation:
    return WorkerInvocation.from_json(task_id=task_id, task_name=name, args_json="[]", kwargs_json="{}",
                                      shepherd_endpoint=url)


async def wait_for(read: Callable[[], Awaitable[TaskInfo]], holds: Callable[[TaskInfo], bool],
                   what: str, timeout: float = 20.0) -> TaskInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = await read()
        if holds(info):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {info}")
        await asyncio.sleep(0.02)


async def test_run_invocation_runs_the_task_and_records_its_result(backend: Backend) -> None:
    # Given a task submitted through the facade's client
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task(greet_user, {"name": "Ada", "language": "fr"}).submit()
        # When a single invocation runs it
        execution = await worker(greet_user).run_invocation(invocation(handle.id, "greet_user", backend.url))
        # Then the execution and the stored task agree
        assert (execution.task_id, execution.success, execution.is_success(), execution.value) == (
            handle.id, True, True, "Bonjour, Ada!")
        result = await handle.wait(timeout=10)
        assert (result.success, result.value, result.attempts) == (True, "Bonjour, Ada!", 1)
        if backend.url.startswith("http"):
            assert (await client.get(handle.id)).worker_id == "shepherd-1"


async def test_a_failed_attempt_is_retried_or_failed_by_the_tasks_retry_policy(backend: Backend) -> None:
    async with await Client.connect(backend.url) as client:
        # Given a task that always fails, allowed two attempts without delay
        handle = await client.submit_task(flaky, [7]).retry_policy(
            RetryPolicy(max_attempts=2, backoff=FixedBackoff(0))).submit()
        runner = worker(flaky)
        # When the first invocation fails, the policy sends it back to pending
        first = await runner.run_invocation(invocation(handle.id, "flaky", backend.url))
        assert (first.outcome, first.retry_delay) == (TaskExecutionOutcome.FAILED, 0.0)
        assert first.error is not None
        assert (first.error.error_type, first.error.message, first.error.retryable) == (
            "ConnectionError", "Network unavailable for 7", True)
        info = await client.get(handle.id)
        assert (info.status, info.attempts) == (TaskStatus.PENDING, 1)
        # And after the second, the task has failed for good with both errors kept
        second = await runner.run_invocation(invocation(handle.id, "flaky", backend.url))
        assert (second.success, second.retry_delay) == (False, None)
        result = await handle.wait(timeout=10)
        assert (result.status, result.attempts, [e.attempt for e in result.errors]) == (TaskStatus.FAILED, 2, [1, 2])


async def test_stop_on_codes_ends_the_task_at_the_first_failure(backend: Backend) -> None:
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task(bad_email, {"to": "nobody"}).retry_policy(
            RetryPolicy(max_attempts=5, stop_on_codes=["INVALID_EMAIL"])).submit()
        execution = await worker(bad_email).run_invocation(invocation(handle.id, "bad_email", backend.url))
        assert execution.error is not None and execution.error.error_code == "INVALID_EMAIL"
        assert execution.retry_delay is None
        result = await handle.wait(timeout=10)
        assert (result.status, result.attempts, str(result.error)) == (
            TaskStatus.FAILED, 1, "TaskError [INVALID_EMAIL]: bad address 'nobody'")


async def test_arguments_the_task_refuses_fail_it_without_a_retry(backend: Backend) -> None:
    # Given a task submitted by name, so nothing checked its arguments on the way in
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task("greet_user", {"nme": "Ada"}).submit()
        execution = await worker(greet_user).run_invocation(invocation(handle.id, "greet_user", backend.url))
        assert execution.error is not None and execution.retry_delay is None
        assert (execution.error.error_type, execution.error.error_code, execution.error.retryable) == (
            "TaskValidationError", "INVALID_ARGUMENTS", False)
        assert execution.error.message == "invalid arguments for task greet_user: missing a required argument: 'name'"
        result = await handle.wait(timeout=10)
        assert (result.status, result.attempts) == (TaskStatus.FAILED, 1)


async def test_a_task_that_is_not_pending_is_refused_with_its_state(backend: Backend) -> None:
    runner = worker(greet_user, gated)
    async with await Client.connect(backend.url) as client:
        # unknown
        with pytest.raises(WorkerError, match=r"^no task with id 'nope' in namespace 'default'$"):
            await runner.run_invocation(invocation("nope", "greet_user", backend.url))
        # finished
        done = await client.submit_task(greet_user, ["Ada"]).submit()
        await runner.run_invocation(invocation(done.id, "greet_user", backend.url))
        with pytest.raises(WorkerError, match="is succeeded, not pending: there is nothing to run"):
            await runner.run_invocation(invocation(done.id, "greet_user", backend.url))
        # delayed
        later = await client.submit_task(greet_user, ["Ada"]).delay(3600).submit()
        with pytest.raises(WorkerError, match=f"task '{later.id}' is pending but not due before 20"):
            await runner.run_invocation(invocation(later.id, "greet_user", backend.url))
        # running in another invocation
        GATES["busy"] = asyncio.Event()
        busy = await client.submit_task(gated, ["busy"]).submit()
        first = asyncio.create_task(runner.run_invocation(invocation(busy.id, "gated", backend.url)))
        await wait_for(lambda: client.get(busy.id), lambda i: i.status is TaskStatus.RUNNING, "the first run")
        with pytest.raises(WorkerError, match="is running, not pending"):
            await runner.run_invocation(invocation(busy.id, "gated", backend.url))
        GATES["busy"].set()
        assert (await first).value == "opened"


async def test_a_task_of_another_name_is_given_back_untouched(backend: Backend) -> None:
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task(greet_user, ["Ada"]).submit()
        with pytest.raises(WorkerError, match="is a 'greet_user' task, not 'flaky'; it was left pending"):
            await worker(greet_user, flaky).run_invocation(invocation(handle.id, "flaky", backend.url))
        info = await client.get(handle.id)
        assert (info.status, info.attempts) == (TaskStatus.PENDING, 0)


async def test_an_unregistered_task_name_is_refused_before_anything_is_leased(backend: Backend) -> None:
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task(greet_user, ["Ada"]).submit()
        with pytest.raises(WorkerError, match=r"^no task named 'greet_user' is registered with this worker "
                                              r"\(registered: flaky\)$"):
            await worker(flaky).run_invocation(invocation(handle.id, "greet_user", backend.url))
        assert (await client.get(handle.id)).attempts == 0


async def test_a_running_invocation_reports_progress_and_stops_when_cancelled(backend: Backend) -> None:
    GATES["cancel"] = asyncio.Event()          # never opened: only the cancellation ends the task
    async with await Client.connect(backend.url) as client:
        handle = await client.submit_task(gated, ["cancel"]).submit()
        run = asyncio.create_task(worker(gated).run_invocation(invocation(handle.id, "gated", backend.url)))
        info = await wait_for(lambda: client.get(handle.id), lambda i: i.progress is not None, "progress")
        assert info.progress is not None and (info.progress.percent, info.progress.message) == (50, "half way")
        await client.cancel(handle.id)
        execution = await asyncio.wait_for(run, 20)
        assert execution.error is not None and execution.error.error_type == "Cancelled"
        assert (await handle.wait(timeout=10)).status is TaskStatus.CANCELLED


async def test_a_client_key_alone_cannot_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server and only a client API key in the environment
    store = open_storage(f"sqlite:///{tmp_path / 'server.db'}")
    await store.open()
    key = signing.new_api_key()
    await store.add_credential("client", "app", "default", key_hash=signing.hash_key(key))  # type: ignore[attr-defined]
    server = LiveServer(store, ServerSettings()).start()
    monkeypatch.setenv("TREADLE_API_KEY", key)
    monkeypatch.delenv("TREADLE_WORKER_ID", raising=False)
    monkeypatch.delenv("TREADLE_WORKER_TOKEN", raising=False)
    try:
        async with await Client.connect(server.url) as client:
            handle = await client.submit_task(greet_user, ["Ada"]).submit()
            # When an invocation tries to run a task, the server refuses the lease
            with pytest.raises(StorageError, match="a client API key cannot lease or finish tasks"):
                await worker(greet_user).run_invocation(invocation(handle.id, "greet_user", server.url))
            assert (await client.get(handle.id)).status is TaskStatus.PENDING
    finally:
        server.stop()


async def test_worker_credentials_alone_give_the_general_reason_in_their_namespace_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_storage(f"sqlite:///{tmp_path / 'server.db'}")
    await store.open()
    secret = signing.new_worker_secret()
    await store.add_credential("worker", "shepherd-1", "default", secret=secret)  # type: ignore[attr-defined]
    server = LiveServer(store, ServerSettings()).start()
    monkeypatch.delenv("TREADLE_API_KEY", raising=False)
    monkeypatch.setenv("TREADLE_WORKER_ID", "shepherd-1")
    monkeypatch.setenv("TREADLE_WORKER_TOKEN", secret)
    try:
        with pytest.raises(WorkerError, match=r"^task 'nope' is not pending \(it is unknown, running elsewhere "
                                              r"or finished\)$"):
            await worker(greet_user).run_invocation(invocation("nope", "greet_user", server.url))
        # and they lease only in their own namespace
        elsewhere = Worker.builder().register_task(greet_user).domain("production").build()
        with pytest.raises(ConfigurationError, match=r"^no namespace 'production'$"):
            await elsewhere.run_invocation(invocation("nope", "greet_user", server.url))
    finally:
        server.stop()


async def test_the_domain_is_the_namespace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'azolla.db'}"
    client = Client(ClientConfig(endpoint=url, domain="production"))
    async with client:
        handle = await client.submit_task(greet_user, ["Ada"]).submit()
        async with AsyncClient(url) as default:
            assert await default.list() == []
        with pytest.raises(WorkerError, match=r"no task with id '.+' in namespace 'default'"):
            await worker(greet_user).run_invocation(invocation(handle.id, "greet_user", url))
        production = Worker.builder().register_task(greet_user).domain("production").build()
        assert (await production.run_invocation(invocation(handle.id, "greet_user", url))).value == "Hello, Ada!"
        assert (await handle.wait(timeout=10)).value == "Hello, Ada!"


async def test_execute_runs_one_attempt_here_with_the_invocations_arguments() -> None:
    runner = Worker.builder().register_task(greet_user).register_task(SumTask()).register_task(flaky).build()
    assert runner.task_count() == 3
    fr = WorkerInvocation.from_json(task_id="t1", task_name="greet_user", args_json='["Alice"]',
                                    kwargs_json='{"language": "fr"}', shepherd_endpoint="")
    assert (await runner.execute(fr)).value == "Bonjour, Alice!"
    add = WorkerInvocation.from_json(task_id="t2", task_name="SumTask", args_json="[2, 3]", kwargs_json="",
                                     shepherd_endpoint="")
    assert (await runner.execute(add)).value == 5
    # a failure is reported once, with the recorded fields, and never retried
    failed = await runner.execute(WorkerInvocation.from_json(task_id="t3", task_name="flaky", args_json="1",
                                                             kwargs_json="{}", shepherd_endpoint=""))
    assert failed.error is not None and (failed.outcome, failed.retry_delay) == (TaskExecutionOutcome.FAILED, None)
    assert (failed.error.error_type, failed.error.message, failed.error.retryable) == (
        "ConnectionError", "Network unavailable for 1", True)
    invalid = await runner.execute(WorkerInvocation.from_json(task_id="t4", task_name="SumTask", args_json='["x"]',
                                                              kwargs_json="{}", shepherd_endpoint=""))
    assert invalid.error is not None and invalid.error.error_type == TaskValidationError.__name__
    assert invalid.error.message == "invalid arguments for task SumTask: a: Input should be a valid integer, " \
                                    "unable to parse string as an integer; b: Field required"
    with pytest.raises(WorkerError, match="no task named 'nope' is registered"):
        await runner.execute(WorkerInvocation(task_id="t5", task_name="nope"))


def test_invocation_json_is_decoded_as_a_shepherd_sends_it() -> None:
    one = WorkerInvocation.from_json(task_id="t", task_name="n", args_json='{"a": 1}', kwargs_json="",
                                     shepherd_endpoint="http://h:1")
    assert (one.args, one.kwargs, one.shepherd_endpoint) == ([{"a": 1}], {}, "http://h:1")
    with pytest.raises(WorkerError, match=r"^invalid args JSON: invalid JSON: unexpected end of data: "
                                          r"line 1 column 4 \(char 3\)$"):
        WorkerInvocation.from_json(task_id="t", task_name="n", args_json="[1,", kwargs_json="{}", shepherd_endpoint="")
    with pytest.raises(WorkerError, match=r"^kwargs JSON must encode an object, got '\[1\]'$"):
        WorkerInvocation.from_json(task_id="t", task_name="n", args_json="[]", kwargs_json="[1]", shepherd_endpoint="")
    with pytest.raises(WorkerError, match=r"^task_id must be a non-empty string, got ''$"):
        WorkerInvocation.from_json(task_id="", task_name="n", args_json="[]", kwargs_json="{}", shepherd_endpoint="")


async def test_an_invocation_without_an_endpoint_is_refused() -> None:
    with pytest.raises(WorkerError, match="the invocation has no shepherd_endpoint"):
        await worker(greet_user).run_invocation(invocation("t", "greet_user", ""))


def test_client_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="timeout must be a positive number of seconds, got 0"):
        ClientConfig(timeout=0)
    with pytest.raises(ConfigurationError, match="max_message_size must be an integer >= 1024 bytes, got 10"):
        ClientConfig(max_message_size=10)
    with pytest.raises(ConfigurationError, match="domain must be a non-empty string"):
        ClientConfig(domain="")
    with pytest.raises(ConfigurationError, match="Client needs a ClientConfig or orchestrator_endpoint="):
        Client()
    with pytest.raises(ConfigurationError, match="unsupported storage URL 'ftp://x'"):
        Client(ClientConfig(endpoint="ftp://x"))
    client = Client(orchestrator_endpoint="http://127.0.0.1:1", domain="team-a", timeout=5)
    assert (client.namespace, client.config.timeout, client.storage.request_timeout) == (  # type: ignore[attr-defined]
        "team-a", 5, 5.0)
