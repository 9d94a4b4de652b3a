"""A real worker and a real client on a real SQLite file, in one event loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from treadle import (
    AsyncClient,
    Client,
    ConfigurationError,
    FixedBackoff,
    RetryPolicy,
    Task,
    TaskContext,
    TaskError,
    TaskStatus,
    TaskValidationError,
    TreadleError,
    WaitTimeoutError,
    Worker,
    WorkerSettings,
    current_context,
    task,
)

FAST = WorkerSettings(lease_seconds=5, heartbeat_seconds=1, poll_seconds=0.2, cancel_check_seconds=0.05,
                      shutdown_grace_seconds=5)
calls: dict[str, int] = {}


@task(name="t.add")
def add(a: int, b: int) -> int:
    return a + b


@task(name="t.async_add")
async def async_add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@task(name="t.flaky", retry=RetryPolicy(max_attempts=3, backoff=FixedBackoff(0.05)))
def flaky(key: str) -> str:
    calls[key] = calls.get(key, 0) + 1
    if current_context().attempt < 3:
        raise ConnectionError(f"attempt {current_context().attempt} failed")
    return "third time lucky"


@task(name="t.declined")
def declined() -> None:
    raise TaskError("card declined", error_code="DECLINED", retryable=False, card="visa")


@task(name="t.only_conn", retry=RetryPolicy(max_attempts=5, backoff=FixedBackoff(0), retry_on=[ConnectionError]))
def only_connection_errors() -> None:
    raise ValueError("not worth retrying")


@task(name="t.stop_code", retry=RetryPolicy(max_attempts=5, backoff=FixedBackoff(0), stop_on_codes=["INVALID_EMAIL"]))
def stop_code() -> None:
    raise TaskError("bad address", error_code="INVALID_EMAIL")


@task(name="t.unserialisable")
def unserialisable() -> object:
    return object()


@task(name="t.slow_async", timeout=0.2, retries=1, retry_sleep_time=0)
async def slow_async() -> None:
    await asyncio.sleep(10)


@task(name="t.slow_sync", timeout=0.2, retries=0)
def slow_sync() -> None:
    ctx = current_context()
    while not ctx.is_cancelled():
        time.sleep(0.01)


@task(name="t.last_words")
def last_words() -> str:
    current_context().progress(100, "done", {"rows": 3})
    return "returned at once"


@task(name="t.cooperative")
def cooperative() -> str:
    ctx = current_context()
    ctx.progress(10, "started", {"rows": 0})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ctx.is_cancelled():
            raise TaskError("stopped", retryable=False)
        time.sleep(0.01)
    return "ran to the end"


@task(name="t.async_forever")
async def async_forever() -> None:
    await asyncio.sleep(60)


@task(name="t.sleep")
def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task(name="t.context")
def context_info() -> dict[str, Any]:
    ctx = current_context()
    ctx.heartbeat(120)
    return {"id": ctx.task_id, "name": ctx.name, "attempt": ctx.attempt, "max": ctx.max_attempts,
            "metadata": ctx.metadata}


@task(name="t.bad_progress")
def bad_progress() -> str:
    current_context().progress(50, "half", data=object())
    return "unreachable"


@task(name="t.stubborn", timeout=0.2, retries=0)
def stubborn(seconds: float) -> None:
    time.sleep(seconds)          # ignores is_cancelled(): the thread outlives its timeout


class Point(BaseModel):
    x: int
    y: int


@task(name="t.model_arg")
def model_arg(p: Point, scale: int = 1) -> int:
    return (p.x + p.y) * scale


class Greet(Task):
    name = "t.greet"

    class Args(BaseModel):
        who: str
        punctuation: str = "!"

    async def execute(self, args: Greet.Args) -> str:
        return f"hello {args.who}{args.punctuation}"


ALL = [add, async_add, flaky, declined, only_connection_errors, stop_code, unserialisable, slow_async, slow_sync,
       cooperative, async_forever, sleep_for, context_info, model_arg, Greet, bad_progress, stubborn, last_words]

Run = Callable[..., Awaitable[Worker]]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, db_url: str) -> str:
    """The same tests on each backend that workers on several machines could share."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return db_url


@pytest.fixture
async def client(url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(url) as c:
        yield c


@pytest.fixture
async def start_worker(url: str) -> AsyncIterator[Run]:
    """Start workers in this loop; they are stopped (gracefully) at the end of the test."""
    running: list[tuple[Worker, asyncio.Task[None]]] = []

    async def start(**kw: Any) -> Worker:
        kw.setdefault("tasks", ALL)
        kw.setdefault("settings", FAST)
        worker = Worker(url, **kw)
        running.append((worker, asyncio.create_task(worker.run())))
        return worker

    yield start
    for worker, _ in running:
        worker.stop(hurry=True)
    await asyncio.wait_for(asyncio.gather(*(t for _, t in running)), 15)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_sync_and_async_tasks_return_their_results(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    sync = await client.submit_task(add, {"a": 2, "b": 3}).submit()
    asynchronous = await client.submit_task(async_add, [4, 5]).submit()
    r1, r2 = await sync.wait(10), await asynchronous.wait(10)
    assert (r1.success, r1.value, r1.attempts, r1.error) == (True, 5, 1, None)
    assert (r2.success, r2.value) == (True, 9)


async def test_task_class_with_args_model(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(Greet, {"who": "ada"}).submit()
    assert (await handle.wait(10)).value == "hello ada!"
    handle = await client.submit_task(Greet(), Greet.Args(who="bob", punctuation="?")).submit()
    assert (await handle.wait(10)).value == "hello bob?"


async def test_pydantic_parameters_are_built_from_json(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(model_arg, {"p": {"x": 1, "y": 2}, "scale": "10"}).submit()
    assert (await handle.wait(10)).value == 30


async def test_retries_with_backoff_until_success(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    key = uuid.uuid4().hex
    result = await (await client.submit_task(flaky, [key]).submit()).wait(10)
    assert result.success and result.value == "third time lucky" and result.attempts == 3
    assert [e.error_type for e in result.errors] == ["ConnectionError", "ConnectionError"]
    assert [e.attempt for e in result.errors] == [1, 2]
    assert "ConnectionError: attempt 1 failed" in (result.errors[0].traceback or "")
    assert calls[key] == 3


async def test_non_retryable_error_fails_at_once_with_its_fields(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    result = await (await client.submit_task(declined).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.attempts == 1
    assert result.error is not None
    assert (result.error.error_code, result.error.retryable, result.error.details) == ("DECLINED", False,
                                                                                       {"card": "visa"})
    with pytest.raises(TaskError, match="card declined"):
        result.unwrap()


async def test_retry_on_and_stop_on_codes_end_retries(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    r1 = await (await client.submit_task(only_connection_errors).submit()).wait(10)
    r2 = await (await client.submit_task(stop_code).submit()).wait(10)
    assert (r1.status, r1.attempts) == (TaskStatus.FAILED, 1)
    assert (r2.status, r2.attempts) == (TaskStatus.FAILED, 1)


async def test_invalid_arguments_are_refused_at_submit_time(client: AsyncClient) -> None:
    with pytest.raises(TaskValidationError, match=r"invalid arguments for task t\.add"):
        client.submit_task(add, {"a": "not a number", "b": 1}).build()
    with pytest.raises(TaskValidationError, match="missing a required argument: 'b'"):
        await client.submit_task(add, {"a": 1}).submit()
    assert await client.list() == []


async def test_invalid_arguments_by_name_fail_in_the_worker_without_retry(client: AsyncClient,
                                                                        start_worker: Run) -> None:
    await start_worker()
    result = await (await client.submit_task("t.add", {"a": "x", "b": 1}).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.attempts == 1
    assert result.error is not None and result.error.error_type == "TaskValidationError"
    assert result.error.error_code == "INVALID_ARGUMENTS"


async def test_unserialisable_result_is_a_clear_failure(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    result = await (await client.submit_task(unserialisable).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.attempts == 1
    assert result.error is not None and result.error.error_type == "SerializationError"
    assert "the result of task t.unserialisable cannot be stored as JSON" in result.error.message


async def test_async_timeout_interrupts_and_is_retried(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    started = time.monotonic()
    result = await (await client.submit_task(slow_async).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.attempts == 2
    assert [e.error_type for e in result.errors] == ["TaskTimeoutError", "TaskTimeoutError"]
    assert time.monotonic() - started < 5


async def test_sync_timeout_is_recorded_and_the_task_told_to_stop(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    result = await (await client.submit_task(slow_sync).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.error is not None
    assert result.error.error_type == "TaskTimeoutError" and "timeout of 0.2s" in result.error.message


async def test_cancel_pending_task_never_runs(client: AsyncClient, start_worker: Run) -> None:
    handle = await client.submit_task(add, [1, 1]).submit()
    info = await handle.cancel()
    assert info.status is TaskStatus.CANCELLED
    await start_worker()
    await asyncio.sleep(0.3)
    assert (await handle.info()).status is TaskStatus.CANCELLED
    assert (await handle.info()).attempts == 0


async def test_cancel_running_sync_task_is_cooperative(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(cooperative).submit()

    async def running() -> bool:
        return (await handle.info()).status is TaskStatus.RUNNING

    await wait_until(running)
    await handle.cancel()
    result = await handle.wait(10)
    assert result.status is TaskStatus.CANCELLED and result.attempts == 1


async def test_cancel_running_async_task_interrupts_it(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(async_forever).submit()

    async def running() -> bool:
        return (await handle.info()).status is TaskStatus.RUNNING

    await wait_until(running)
    started = time.monotonic()
    await handle.cancel()
    result = await handle.wait(10)
    assert result.status is TaskStatus.CANCELLED and time.monotonic() - started < 3


async def test_progress_reported_just_before_returning_is_kept(client: AsyncClient, start_worker: Run) -> None:
    await start_worker(concurrency=1)
    handles = [await client.submit_task(last_words).submit() for _ in range(5)]
    for handle in handles:
        assert (await handle.wait(10)).value == "returned at once"
        progress = await handle.progress()
        assert progress is not None and (progress.percent, progress.message, progress.data) == (100, "done",
                                                                                                {"rows": 3})


async def test_progress_is_visible_while_the_task_runs(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(cooperative).submit()

    async def has_progress() -> bool:
        return (await handle.progress()) is not None

    await wait_until(has_progress)
    progress = await handle.progress()
    assert progress is not None and (progress.percent, progress.message, progress.data) == (10, "started",
                                                                                            {"rows": 0})
    assert (await handle.info()).status is TaskStatus.RUNNING
    await handle.cancel()
    await handle.wait(10)


async def test_context_describes_the_attempt_and_heartbeat_extends_the_lease(client: AsyncClient,
                                                                            start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(context_info).metadata(team="core").submit()
    result = await handle.wait(10)
    assert result.value == {"id": handle.id, "name": "t.context", "attempt": 1, "max": 3,
                            "metadata": {"team": "core"}}


async def test_handlers_receive_the_context_for_their_pattern(client: AsyncClient, start_worker: Run) -> None:
    seen: list[TaskContext] = []

    async def handle_math(ctx: TaskContext) -> dict[str, Any]:
        seen.append(ctx)
        return {"result": ctx.input["a"] * ctx.input["b"], "op": ctx.name}

    worker = Worker(client.storage, settings=FAST).register_handler("math.*", handle_math)
    runner = asyncio.create_task(worker.run())
    try:
        result = await (await client.submit_task("math.multiply", {"a": 6, "b": 7}).submit()).wait(10)
        assert result.value == {"result": 42, "op": "math.multiply"}
        assert seen[0].kwargs == {"a": 6, "b": 7}
    finally:
        worker.stop(hurry=True)
        await runner


async def test_worker_only_claims_names_matching_its_patterns(client: AsyncClient, start_worker: Run) -> None:
    await start_worker(patterns=["t.async*"])
    other = await client.submit_task(add, [1, 1]).submit()
    mine = await client.submit_task(async_add, [1, 1]).submit()
    assert (await mine.wait(10)).value == 2
    await asyncio.sleep(0.2)
    assert (await other.info()).status is TaskStatus.PENDING


async def test_delayed_task_starts_after_its_delay(client: AsyncClient, start_worker: Run) -> None:
    # A poll far longer than the wait: the worker must wake for the due time it learned from its
    # last claim, not on its next poll. (How close to its time it starts is measured by
    # benchmarks/bench.py, not asserted here.)
    await start_worker(settings=FAST.with_changes(poll_seconds=60))
    submitted = time.time()
    handle = await client.submit_task(add, [1, 2]).delay(0.5).submit()
    await handle.wait(10)
    info = await handle.info()
    assert info.started_at is not None and info.started_at >= info.run_after >= submitted + 0.5


async def test_priority_orders_the_queue(client: AsyncClient, start_worker: Run) -> None:
    low = [await client.submit_task(sleep_for, [0]).submit() for _ in range(3)]
    high = await client.submit_task(sleep_for, [0]).priority(10).submit()
    await start_worker(concurrency=1)
    for h in [*low, high]:
        await h.wait(10)
    starts = {h.id: (await h.info()).started_at for h in [*low, high]}
    assert starts[high.id] == min(starts.values())


async def test_idempotency_key_returns_the_same_task(client: AsyncClient) -> None:
    first = await client.submit_task(add, [1, 2]).idempotency_key("order-42").submit()
    second = await client.submit_task(add, [5, 5]).idempotency_key("order-42").submit()
    assert first.id == second.id
    assert len(await client.list()) == 1


async def test_submit_many_is_one_batch(client: AsyncClient, start_worker: Run) -> None:
    handles = await client.submit_many([client.submit_task(add, [i, i]) for i in range(20)] + [(async_add, [1, 1])])
    assert len({h.id for h in handles}) == 21
    await start_worker()
    assert [(await h.wait(10)).value for h in handles] == [2 * i for i in range(20)] + [2]


async def test_failed_task_can_be_redriven(client: AsyncClient, start_worker: Run) -> None:
    await start_worker()
    handle = await client.submit_task(declined).submit()
    assert (await handle.wait(10)).status is TaskStatus.FAILED
    info = await client.retry(handle.id)
    assert info.status in (TaskStatus.PENDING, TaskStatus.RUNNING)
    result = await handle.wait(10)
    assert result.status is TaskStatus.FAILED and len(result.errors) == 2


async def test_wait_with_timeout_raises_and_the_task_lives_on(client: AsyncClient) -> None:
    handle = await client.submit_task(add, [1, 2]).submit()
    with pytest.raises(WaitTimeoutError, match=r"still pending after 0\.1s"):
        await handle.wait(0.1)
    assert (await handle.info()).status is TaskStatus.PENDING


async def test_graceful_stop_lets_running_tasks_finish(client: AsyncClient, url: str) -> None:
    worker = Worker(url, tasks=ALL, settings=FAST)
    runner = asyncio.create_task(worker.run())
    handle = await client.submit_task(sleep_for, [0.5]).submit()

    async def running() -> bool:
        return (await handle.info()).status is TaskStatus.RUNNING

    await wait_until(running)
    worker.stop()
    await asyncio.wait_for(runner, 10)
    assert (await handle.info()).status is TaskStatus.SUCCEEDED


async def test_stop_after_the_grace_period_releases_running_tasks(client: AsyncClient, url: str) -> None:
    worker = Worker(url, tasks=ALL, settings=FAST.with_changes(shutdown_grace_seconds=0.2))
    runner = asyncio.create_task(worker.run())
    handle = await client.submit_task(async_forever).submit()

    async def running() -> bool:
        return (await handle.info()).status is TaskStatus.RUNNING

    await wait_until(running)
    worker.stop()
    await asyncio.wait_for(runner, 10)
    info = await handle.info()
    assert info.status is TaskStatus.PENDING and info.attempts == 0


async def test_worker_without_tasks_refuses_to_start(db_url: str) -> None:
    with pytest.raises(ConfigurationError, match="no tasks or handlers"):
        await Worker(db_url).run()
    with pytest.raises(ConfigurationError, match="concurrency must be an integer >= 1"):
        Worker(db_url, tasks=[add], concurrency=0)


def test_current_context_outside_a_task_is_an_error() -> None:
    with pytest.raises(TreadleError, match="outside a running task"):
        current_context()


def test_sync_client_works_from_plain_code(url: str) -> None:
    with Client(url, tasks=[add]) as client:
        handle = client.submit_task("t.add", {"a": 1, "b": 2}).submit()
        assert client.get(handle.id).status is TaskStatus.PENDING
        assert [i.id for i in client.list(status="pending", name="t.*")] == [handle.id]
        with pytest.raises(TaskValidationError):
            client.submit_task("t.add", {"a": 1}).submit()
        with pytest.raises(WaitTimeoutError):
            handle.wait(0.05)
        assert handle.cancel().status is TaskStatus.CANCELLED
        with pytest.raises(ConfigurationError, match="unknown status"):
            client.list(status="finished")


async def test_process_mode_runs_each_task_in_its_own_process(client: AsyncClient, start_worker: Run) -> None:
    from e2e_tasks import until_cancelled, whoami

    await start_worker(tasks=[whoami, until_cancelled], mode="process")
    first = await (await client.submit_task(whoami).submit()).wait(30)
    second = await (await client.submit_task(whoami).submit()).wait(30)
    assert first.success and second.success
    assert len({first.value, second.value, os.getpid()}) == 3

    handle = await client.submit_task(until_cancelled).submit()

    async def has_progress() -> bool:
        return (await handle.progress()) is not None

    await wait_until(has_progress, 30)
    progress = await handle.progress()
    assert progress is not None and progress.message == "half way"
    await handle.cancel()
    assert (await handle.wait(30)).status is TaskStatus.CANCELLED


async def test_progress_data_that_is_not_json_fails_the_task_not_the_worker(client: AsyncClient,
                                                                             start_worker: Run) -> None:
    await start_worker()
    result = await (await client.submit_task(bad_progress).submit()).wait(10)
    assert result.status is TaskStatus.FAILED and result.error is not None
    assert result.error.error_type == "SerializationError" and "progress data" in result.error.message
    assert (await (await client.submit_task(add, [1, 1]).submit()).wait(10)).value == 2


async def test_a_timed_out_thread_keeps_its_slot_until_it_returns(client: AsyncClient, start_worker: Run) -> None:
    # Given a worker with one slot, whose task outlives its 0.2 s timeout by a second
    await start_worker(concurrency=1)
    stuck = await client.submit_task(stubborn, [1.2]).submit()
    assert (await stuck.wait(10)).error.error_type == "TaskTimeoutError"  # type: ignore[union-attr]
    # When another task arrives while that thread still runs
    quick = await client.submit_task(add, [2, 2]).submit()
    await asyncio.sleep(0.3)
    # Then it waits for the slot instead of queueing behind the stuck thread
    assert (await quick.info()).status is TaskStatus.PENDING
    assert (await quick.wait(10)).value == 4


async def test_shutdown_releases_a_cooperative_sync_task_instead_of_failing_it(client: AsyncClient,
                                                                               url: str) -> None:
    worker = Worker(url, tasks=ALL, settings=FAST.with_changes(shutdown_grace_seconds=0.2))
    runner = asyncio.create_task(worker.run())
    handle = await client.submit_task(cooperative).submit()

    async def running() -> bool:
        return (await handle.info()).status is TaskStatus.RUNNING

    await wait_until(running)
    worker.stop()
    await asyncio.wait_for(runner, 10)
    info = await handle.info()
    assert (info.status, info.attempts, info.errors) == (TaskStatus.PENDING, 0, [])


def test_a_client_shared_by_many_threads_holds_a_bounded_number_of_files(db_url: str) -> None:
    # Web servers call one client from many short-lived threads.
    with Client(db_url) as client:
        client.submit_task(add, [0, 0]).submit()
        before = len(os.listdir("/proc/self/fd"))
        errors: list[BaseException] = []

        def use() -> None:
            try:
                client.submit_task(add, [1, 2]).submit()
                client.list(limit=1)
            except BaseException as exc:
                errors.append(exc)

        for _ in range(100):
            thread = threading.Thread(target=use)
            thread.start()
            thread.join()
        assert errors == []
        assert len(os.listdir("/proc/self/fd")) - before < 10
        assert len(client.list(limit=200)) == 101
