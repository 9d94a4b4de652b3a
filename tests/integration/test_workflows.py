"""Orchestrations end to end: a runtime and a client on SQLite and on PostgreSQL, in one event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from treadle import (
    AsyncClient,
    ConfigurationError,
    FixedBackoff,
    InstanceNotFoundError,
    OrchestrationContext,
    OrchestrationFailure,
    RetryPolicy,
    Runtime,
    Task,
    TaskError,
    WaitTimeoutError,
    Worker,
    WorkerSettings,
    current_context,
    orchestration,
    task,
)
from treadle.core.records import Succeeded
from treadle.storage import open_storage

FAST = WorkerSettings(lease_seconds=5, heartbeat_seconds=1, poll_seconds=0.2, cancel_check_seconds=0.05,
                      shutdown_grace_seconds=2)
attempts: dict[str, int] = {}


@task(name="wf.greet")
def greet(name: str) -> str:
    return f"Hello, {name}!"


@task(name="wf.square")
async def square(n: int) -> int:
    return n * n


@task(name="wf.flaky", retries=0)
def flaky(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if current_context().attempt < 3:
        raise ConnectionError("not yet")
    return "finally"


@task(name="wf.broken", retries=0)
def broken(reason: str) -> None:
    raise TaskError(reason, error_code="BROKEN", retryable=False)


@task(name="wf.slow")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slow done"


class Charge(Task):
    name = "wf.charge"

    class Args(BaseModel):
        amount: int

    def execute(self, args: Charge.Args) -> dict[str, int]:
        return {"charged": args.amount}


@orchestration(name="wf.hello")
def hello(ctx: OrchestrationContext, input: Any) -> Any:
    result = yield ctx.schedule_activity(greet, {"name": input["name"]})
    return result


@orchestration(name="wf.retrying")
def retrying(ctx: OrchestrationContext, key: str) -> Any:
    policy = RetryPolicy(max_attempts=3, backoff=FixedBackoff(0.05))
    ok = yield ctx.schedule_activity_with_retry(flaky, key, policy)
    try:
        yield ctx.schedule_activity(broken, "no way")
    except OrchestrationFailure as exc:
        return {"ok": ok, "compensated": exc.error["error_code"]}
    return {"ok": ok, "compensated": None}


@orchestration(name="wf.fan")
def fan(ctx: OrchestrationContext, n: int) -> Any:
    results = yield ctx.all([ctx.schedule_activity(square, i) for i in range(n)])
    return sum(results)


@orchestration(name="wf.racer")
def racer(ctx: OrchestrationContext, input: Any) -> Any:
    winner = yield ctx.race(ctx.schedule_activity(slow, 30), ctx.schedule_timer(200))
    return {"index": winner.index}


@orchestration(name="wf.child")
def child(ctx: OrchestrationContext, x: int) -> Any:
    charged = yield ctx.schedule_activity(Charge, {"amount": x})
    return charged["charged"] * 2


@orchestration(name="wf.parent")
def parent(ctx: OrchestrationContext, _: Any) -> Any:
    a = yield ctx.schedule_sub_orchestration("wf.child", 5)
    b = yield ctx.schedule_sub_orchestration("wf.child", 7, instance_id=f"{ctx.instance_id}-fixed")
    return a + b


@orchestration(name="wf.mixed")
def mixed(ctx: OrchestrationContext, _: Any) -> Any:
    """An activity then a child with the default id: their bookkeeping must not collide."""
    a = yield ctx.schedule_activity(square, 3)
    b = yield ctx.schedule_sub_orchestration("wf.child", 2)
    return a + b


@orchestration(name="wf.approval")
def approval(ctx: OrchestrationContext, _: Any) -> Any:
    ctx.set_custom_status("waiting for approval")
    decision = yield ctx.wait_for_event("approval")
    ctx.set_custom_status({"approved_by": decision["by"]})
    yield ctx.schedule_timer(50)
    return {"decision": decision, "at_least": ctx.now(), "id": ctx.new_uuid()}


@orchestration(name="wf.counter")
def counter(ctx: OrchestrationContext, n: int) -> Any:
    yield ctx.schedule_activity(square, n)
    if n >= 3:
        return n
    return (yield ctx.continue_as_new(n + 1))


@orchestration(name="wf.chat")
def chat(ctx: OrchestrationContext, seen: int) -> Any:
    message = yield ctx.dequeue_event("inbox")
    ctx.set_custom_status({"seen": seen + 1, "last": message})
    if message == "bye":
        return seen + 1
    return (yield ctx.continue_as_new(seen + 1))


@orchestration(name="wf.sleeper")
def sleeper(ctx: OrchestrationContext, _: Any) -> Any:
    yield ctx.schedule_timer(60_000)
    return "woke"


@task(name="wf.where")
async def where(n: int) -> str:
    await asyncio.sleep(0.005)
    return current_context().worker_id


@orchestration(name="wf.sessions")
def sessions(ctx: OrchestrationContext, rounds: int) -> Any:
    seen: dict[str, list[str]] = {"s1": [], "s2": []}
    for n in range(rounds):
        a, b = yield ctx.all([ctx.schedule_activity_on_session(where, n, "s1"),
                              ctx.schedule_activity_with_retry_on_session(where, n, RetryPolicy(max_attempts=2),
                                                                         "s2")])
        seen["s1"].append(a)
        seen["s2"].append(b)
    return seen


ALL = [greet, square, flaky, broken, slow, Charge, hello, retrying, fan, racer, child, parent, mixed, approval,
       counter, chat, sleeper, where, sessions]
Start = Callable[..., Awaitable[Runtime]]


@pytest.fixture(params=["sqlite", "postgres", "remote-sqlite"])
def url(request: pytest.FixtureRequest, db_url: str) -> Iterator[str]:
    """The database, or a live server over a SQLite file (the client and the runtimes then go through it)."""
    if request.param == "postgres":
        yield str(request.getfixturevalue("pg_url"))
    elif request.param == "remote-sqlite":
        from live_server import LiveServer

        server = LiveServer(open_storage(db_url)).start()
        yield server.url
        server.stop()
    else:
        yield db_url


@pytest.fixture
async def client(url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(url) as c:
        yield c


@pytest.fixture
async def runtime(url: str) -> AsyncIterator[Start]:
    started: list[tuple[Runtime, asyncio.Task[None]]] = []

    async def start(items: list[Any] | None = None, **kw: Any) -> Runtime:
        rt = Runtime(url, tasks=items or ALL, settings=kw.pop("settings", FAST), concurrency=kw.pop("concurrency", 16),
                     **kw)
        started.append((rt, asyncio.create_task(rt.run())))
        return rt

    yield start
    for rt, _ in started:
        rt.stop(hurry=True)
    await asyncio.wait_for(asyncio.gather(*(t for _, t in started)), 20)


def iid() -> str:
    return "i-" + uuid.uuid4().hex[:10]


async def test_an_orchestration_runs_its_activity_and_completes(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    assert await client.start_orchestration(instance, "wf.hello", {"name": "World"}) is True
    info = await client.wait_for_orchestration(instance, 20)
    assert (info.status, info.output, info.error, info.execution) == ("completed", "Hello, World!", None, 1)
    kinds = [e.kind for e in await client.read_history(instance)]
    assert kinds == ["ExecutionStarted", "OrchestratorStarted", "ActivityScheduled", "OrchestratorStarted",
                     "ActivityCompleted", "ExecutionCompleted"]


async def test_starting_an_existing_instance_id_changes_nothing(client: AsyncClient, runtime: Start) -> None:
    instance = iid()
    assert await client.start_orchestration(instance, "wf.hello", {"name": "first"})
    assert not await client.start_orchestration(instance, "wf.hello", {"name": "second"})
    await runtime()
    assert (await client.wait_for_orchestration(instance, 20)).output == "Hello, first!"


async def test_activity_retries_and_failures_reach_the_orchestration(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance, key = iid(), uuid.uuid4().hex
    await client.start_orchestration(instance, "wf.retrying", key)
    info = await client.wait_for_orchestration(instance, 20)
    assert info.output == {"ok": "finally", "compensated": "BROKEN"}
    assert attempts[key] == 3


async def test_fan_out_and_in(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.fan", 20)
    assert (await client.wait_for_orchestration(instance, 30)).output == sum(i * i for i in range(20))


async def test_race_reports_the_winner_and_cancels_the_losing_activity(client: AsyncClient,
                                                                       runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.racer")
    info = await client.wait_for_orchestration(instance, 20)
    assert info.output == {"index": 1}
    slow_tasks = [t for t in await client.list(name="wf.slow", limit=50) if t.metadata == {}]
    assert slow_tasks and all(t.cancel_requested or t.status.value == "cancelled" for t in slow_tasks)


async def test_sub_orchestrations_and_the_instance_tree(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.parent")
    assert (await client.wait_for_orchestration(instance, 30)).output == 10 + 14
    tree = await client.orchestration_tree(instance)
    assert {c["instance_id"] for c in tree["children"]} == {f"{instance}:0", f"{instance}-fixed"}
    assert all(c["status"] == "completed" for c in tree["children"])


async def test_an_activity_then_a_default_named_child(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.mixed")
    info = await client.wait_for_orchestration(instance, 30)
    assert (info.status, info.output) == ("completed", 9 + 4)
    assert (await client.get_orchestration(f"{instance}:1")).parent_instance_id == instance


async def test_a_deleted_id_can_be_started_again(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.hello", {"name": "first"})
    assert (await client.wait_for_orchestration(instance, 20)).output == "Hello, first!"
    assert await client.delete_orchestration(instance)
    assert await client.start_orchestration(instance, "wf.hello", {"name": "second"})
    assert (await client.wait_for_orchestration(instance, 20)).output == "Hello, second!"


async def test_wrong_client_input_is_refused_with_what_was_wrong(client: AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="an orchestration instance id must be a non-empty string"):
        await client.start_orchestration("", "wf.hello")
    with pytest.raises(ConfigurationError, match="invalid orchestration name 'say hello'"):
        await client.start_orchestration(iid(), "say hello")
    with pytest.raises(ConfigurationError, match="an event name must be a non-empty string"):
        await client.raise_event(iid(), "")
    with pytest.raises(ConfigurationError, match=r"a queue name must be a non-empty string.*not 5"):
        await client.enqueue_event(iid(), 5)  # type: ignore[arg-type]
    with pytest.raises(InstanceNotFoundError, match="no orchestration instance"):
        await client.raise_event("nobody-" + iid(), "go")
    assert await client.list_orchestrations() == []                 # nothing was started by the wrong calls


async def test_an_event_raised_before_the_wait_is_kept_and_status_can_be_watched(client: AsyncClient,
                                                                                runtime: Start) -> None:
    instance = iid()
    await client.start_orchestration(instance, "wf.approval")
    assert await client.raise_event(instance, "approval", {"by": "ada"})   # before any runtime runs
    await runtime()
    first = await client.wait_for_status_change(instance, 0, 20)
    assert first.custom_status_version >= 1
    info = await client.wait_for_orchestration(instance, 20)
    assert info.output["decision"] == {"by": "ada"} and info.custom_status == {"approved_by": "ada"}
    assert info.output["at_least"] >= info.created_at
    history = await client.read_history(instance)
    assert next(e for e in history if e.kind == "EventRaised").data == {"name": "approval", "data": {"by": "ada"}}


async def test_continue_as_new_starts_fresh_executions(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.counter", 0)
    info = await client.wait_for_orchestration(instance, 30)
    assert (info.output, info.execution) == (3, 4)
    assert await client.list_executions(instance) == [1, 2, 3, 4]
    assert (await client.read_history(instance, 1))[-1].kind == "ExecutionContinuedAsNew"
    removed = await client.prune_executions(instance, keep_last=2)
    assert removed > 0 and await client.list_executions(instance) == [3, 4]


async def test_a_queue_is_read_in_order_across_continue_as_new(client: AsyncClient, runtime: Start) -> None:
    instance = iid()
    await client.start_orchestration(instance, "wf.chat", 0)
    for message in ("hi", "how are you", "bye"):
        assert await client.enqueue_event(instance, "inbox", message)
    await runtime()
    info = await client.wait_for_orchestration(instance, 30)
    assert info.output == 3 and info.custom_status == {"seen": 3, "last": "bye"}


async def test_terminate_stops_the_instance_and_its_timer(client: AsyncClient, runtime: Start) -> None:
    await runtime()
    instance = iid()
    await client.start_orchestration(instance, "wf.sleeper")

    async def timer_scheduled() -> bool:
        return any(e.kind == "TimerCreated" for e in await client.read_history(instance))

    await wait_until(timer_scheduled)
    assert await client.terminate_orchestration(instance, "no longer needed")
    info = await client.get_orchestration(instance)
    assert info.status == "terminated" and info.error == {"message": "no longer needed", "error_type": "Terminated"}
    assert not await client.terminate_orchestration(instance)
    assert not await client.raise_event(instance, "late", 1)
    timers = await client.list(name="treadle.timer", limit=50)
    assert timers and all(t.status.value == "cancelled" for t in timers if t.kwargs == {})


async def test_admin_lists_inspects_measures_and_deletes(client: AsyncClient, runtime: Start) -> None:
    rt = await runtime()
    first, second = iid(), iid()
    await client.start_orchestration(first, "wf.hello", {"name": "a"})
    await client.start_orchestration(second, "wf.parent")
    await client.wait_for_orchestration(first, 20)
    await client.wait_for_orchestration(second, 30)
    assert {i.instance_id for i in await client.list_orchestrations(name="wf.hello")} >= {first}
    assert second in {i.instance_id for i in await client.list_orchestrations(status="completed")}
    metrics = await client.system_metrics()
    assert metrics["instances"]["completed"] >= 4
    snapshot = rt.metrics_snapshot()
    assert snapshot["decisions"] >= 6 and snapshot["orchestrations_completed"] >= 4
    assert snapshot["activities_scheduled"] >= 3
    assert await client.delete_orchestration(second)
    for gone in (second, f"{second}:0", f"{second}-fixed"):
        with pytest.raises(InstanceNotFoundError, match="no orchestration instance"):
            await client.get_orchestration(gone)
    with pytest.raises(ConfigurationError, match="unknown status 'done'"):
        await client.list_orchestrations(status="done")


async def test_waiting_too_long_raises_and_the_instance_lives_on(client: AsyncClient) -> None:
    instance = iid()
    await client.start_orchestration(instance, "wf.hello", {"name": "nobody runs me"})
    with pytest.raises(WaitTimeoutError, match=r"is still running after 0\.1s"):
        await client.wait_for_orchestration(instance, 0.1)
    assert (await client.get_orchestration(instance)).status == "running"


async def test_changed_code_fails_the_instance_with_a_nondeterminism_error(client: AsyncClient,
                                                                           runtime: Start) -> None:
    @orchestration(name="wf.evolving")
    def v1(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity(greet, {"name": "a"})
        yield ctx.wait_for_event("go")
        return "v1"

    @orchestration(name="wf.evolving")
    def v2(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity(square, 2)       # was greet: the recorded step 0 no longer matches
        yield ctx.wait_for_event("go")
        return "v2"

    old = await runtime([greet, square, v1])
    instance = iid()
    await client.start_orchestration(instance, "wf.evolving")

    async def waiting() -> bool:
        return any(e.kind == "ActivityCompleted" for e in await client.read_history(instance))

    await wait_until(waiting)
    old.stop(hurry=True)
    await runtime([greet, square, v2])
    await client.raise_event(instance, "go")
    info = await client.wait_for_orchestration(instance, 20)
    assert info.status == "failed" and info.error is not None
    assert info.error["error_type"] == "NondeterminismError" and info.error["details"] == {"step": 0}
    assert "diverged from its history at step 0" in info.error["message"]


async def test_a_patched_change_keeps_running_instances_on_the_old_path(client: AsyncClient,
                                                                        runtime: Start) -> None:
    @orchestration(name="wf.shipping")
    def v1(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.wait_for_event("go")
        charged = yield ctx.schedule_activity(Charge, {"amount": 1})
        return ["v1", charged]

    @orchestration(name="wf.shipping")
    def v2(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.wait_for_event("go")
        path = "old"
        if ctx.patched("double-charge"):
            path = "new"
            yield ctx.schedule_activity(Charge, {"amount": 2})
        charged = yield ctx.schedule_activity(Charge, {"amount": 1})
        return [path, charged]

    old_rt = await runtime([Charge, v1])
    running = iid()
    await client.start_orchestration(running, "wf.shipping")
    await client.raise_event(running, "go")

    async def charged_once() -> bool:
        return any(e.kind == "ActivityScheduled" for e in await client.read_history(running))

    await wait_until(charged_once)
    old_rt.stop(hurry=True)
    await runtime([Charge, v2])
    fresh = iid()
    await client.start_orchestration(fresh, "wf.shipping")
    await client.raise_event(fresh, "go")
    # v1 may have finished it before the switch; if not, v2 replays it down the old path: never the new one
    assert (await client.wait_for_orchestration(running, 20)).output in (["v1", {"charged": 1}],
                                                                         ["old", {"charged": 1}])
    assert (await client.wait_for_orchestration(fresh, 20)).output == ["new", {"charged": 1}]


async def test_five_hundred_activities_fan_out_and_join(client: AsyncClient, runtime: Start) -> None:
    await runtime(concurrency=64)
    instance = iid()
    await client.start_orchestration(instance, "wf.fan", 500)
    info = await client.wait_for_orchestration(instance, 120)
    assert info.output == sum(i * i for i in range(500))
    history = await client.read_history(instance)
    assert sum(e.kind == "ActivityCompleted" for e in history) == 500


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_activities_of_a_session_stay_on_one_worker_while_it_lives(client: AsyncClient,
                                                                         runtime: Start) -> None:
    # Given two workers
    workers = {name: await runtime(worker_id=name) for name in ("worker-a", "worker-b")}
    instance = iid()
    await client.start_orchestration(instance, "wf.sessions", 6)
    seen = (await client.wait_for_orchestration(instance, 30)).output
    # Then each session ran all its activities on one worker
    assert len(set(seen["s1"])) == 1 and len(set(seen["s2"])) == 1
    # When the owner of s1 stops, its session moves to the other worker
    owner = seen["s1"][0]
    workers[owner].stop()
    again = iid()
    await client.start_orchestration(again, "wf.sessions", 3)
    moved = (await client.wait_for_orchestration(again, 30)).output
    (survivor,) = set(workers) - {owner}
    assert set(moved["s1"]) == {survivor} and set(moved["s2"]) == {survivor}


async def test_a_heartbeat_right_after_a_decision_commits_is_not_a_lost_lease(
        client: AsyncClient, runtime: Start, url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A decision finishes its own task when it commits: a lease check in between must not cry wolf."""
    if url.startswith("http"):
        pytest.skip("the runtime's storage is the remote client here; the race is the database's")
    rt = await runtime()
    while rt.orchestrator is None or rt._loop is None:     # the orchestrator exists once the runtime runs
        await asyncio.sleep(0.01)
    checked: list[bool] = []
    commit = rt.storage.wf_commit

    async def commit_then_check(decision: Any) -> bool:
        committed = await commit(decision)
        await rt._check_leases(extend=True)     # the heartbeat lands between the commit and the task's end
        checked.append(committed)
        return bool(committed)

    rt.storage.wf_commit = commit_then_check      # type: ignore[method-assign]
    instance = f"hb-{uuid.uuid4().hex[:8]}"
    with caplog.at_level("WARNING", logger="treadle"):
        assert await client.start_orchestration(instance, "wf.hello", {"name": "again"})
        info = await client.wait_for_orchestration(instance, 20)
    assert (info.status, info.output) == ("completed", "Hello, again!")
    assert checked and all(checked)
    assert [r.getMessage() for r in caplog.records if "lease" in r.getMessage()] == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_activity_whose_lease_does_not_say_it_belongs_to_an_orchestration_still_reports_to_it(
        request: pytest.FixtureRequest, backend: str) -> None:
    # Given a worker whose successes do not say they belong to an orchestration (a remote worker's
    # word, which the server cannot check), on a store of its own
    url = str(request.getfixturevalue("pg_url" if backend == "postgres" else "db_url"))
    storage = open_storage(url)
    recorded = storage.finish

    async def finish_unflagged(outcomes: Any, handoff: Any = None) -> list[bool]:
        plain = [dataclasses.replace(o, lease=dataclasses.replace(o.lease, workflow=False))
                 if isinstance(o, Succeeded) else o for o in outcomes]
        return await recorded(plain, handoff)

    storage.finish = finish_unflagged  # type: ignore[method-assign]
    worker = Worker(storage, tasks=[greet, hello], concurrency=1, settings=FAST)
    running = asyncio.create_task(worker.run())
    try:
        async with AsyncClient(url) as client:
            # When an orchestration runs its activity there
            instance = iid()
            await client.start_orchestration(instance, "wf.hello", {"name": "Ada"})
            # Then the result still reaches the orchestration, which completes
            info = await client.wait_for_orchestration(instance, 20)
            assert (info.status, info.output) == ("completed", "Hello, Ada!")
    finally:
        worker.stop(hurry=True)
        await asyncio.wait_for(running, 20)
        await storage.close()
