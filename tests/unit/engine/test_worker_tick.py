"""The worker driven one `tick(now)` at a time against the in-memory backend and a frozen clock."""

from __future__ import annotations

import asyncio

from treadle import FixedBackoff, RetryPolicy, TaskStatus, Worker, WorkerSettings, task
from treadle.core.clock import FrozenClock
from treadle.core.records import NewTask, TaskQuery
from treadle.storage import MemoryStorage

SETTINGS = WorkerSettings(lease_seconds=10, heartbeat_seconds=3, sweep_seconds=1, cancel_check_seconds=0.5)
release = asyncio.Event()


@task(name="tick.add")
async def add(a: int, b: int) -> int:
    return a + b


@task(name="tick.blocked", retry=RetryPolicy(max_attempts=2, backoff=FixedBackoff(0)))
async def blocked() -> str:
    await release.wait()
    return "released"


async def enqueue(store: MemoryStorage, name: str, *args: int) -> str:
    t = NewTask(id=f"{name}{args}", name=name, args=list(args),
                retry_policy=RetryPolicy(max_attempts=2, backoff=FixedBackoff(0)).to_dict(), max_attempts=2)
    await store.enqueue([t])
    return t.id


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_tick_claims_up_to_the_free_slots_and_the_next_records_outcomes() -> None:
    clock = FrozenClock()
    store = MemoryStorage(clock=clock)
    worker = Worker(store, tasks=[add], concurrency=2, settings=SETTINGS, clock=clock)
    ids = [await enqueue(store, "tick.add", i, i) for i in range(3)]

    first = await worker.tick(now=0.0)
    assert (first.claimed, first.finished) == (2, 0)
    await settle()
    second = await worker.tick(now=0.1)
    assert (second.claimed, second.finished) == (1, 2)
    await settle()
    await worker.tick(now=0.2)
    results = [(await store.get("default", i)) for i in ids]
    assert [(r.status, r.result) for r in results if r] == [(TaskStatus.SUCCEEDED, 2 * i) for i in range(3)]


async def test_a_tick_recovers_tasks_whose_lease_expired_elsewhere() -> None:
    # Given a task claimed by a worker that then vanished
    clock = FrozenClock()
    store = MemoryStorage(clock=clock)
    task_id = await enqueue(store, "tick.add", 1, 2)
    from treadle.core.routing import Pattern
    await store.claim(namespace="default", worker_id="gone", patterns=[Pattern("*")], limit=1, lease_seconds=10)
    worker = Worker(store, tasks=[add], settings=SETTINGS, clock=clock)
    # When the lease has expired by the store's clock and the worker sweeps
    clock.advance(11)
    await worker.tick(now=100.0)
    await settle()
    await worker.tick(now=100.1)
    # Then the task ran again, on attempt 2, and the first attempt's error says why
    info = await store.get("default", task_id)
    assert info is not None and info.status is TaskStatus.SUCCEEDED and info.attempts == 2
    assert [e.error_type for e in info.errors] == ["LeaseExpired"]


async def test_heartbeats_are_sent_when_due_and_keep_the_lease() -> None:
    clock = FrozenClock()
    store = MemoryStorage(clock=clock)
    task_id = await enqueue(store, "tick.blocked")
    worker = Worker(store, tasks=[blocked], settings=SETTINGS, clock=clock)
    await worker.tick(now=0.0)
    before = (await store.get("default", task_id)).lease_expires  # type: ignore[union-attr]
    clock.advance(8)
    await worker.tick(now=1.0)               # heartbeat not due yet (every 3 s)
    assert (await store.get("default", task_id)).lease_expires == before  # type: ignore[union-attr]
    await worker.tick(now=10.0)              # due: renewed to now + 10
    renewed = (await store.get("default", task_id)).lease_expires  # type: ignore[union-attr]
    assert renewed == clock.now() + 10
    clock.advance(9)                          # past the original lease, within the renewed one
    await worker.tick(now=11.0)
    release.set()
    await settle()
    await worker.tick(now=11.1)
    info = await store.get("default", task_id)
    assert info is not None and info.status is TaskStatus.SUCCEEDED and info.attempts == 1


async def test_a_stopping_worker_claims_nothing() -> None:
    clock = FrozenClock()
    store = MemoryStorage(clock=clock)
    await enqueue(store, "tick.add", 1, 1)
    worker = Worker(store, tasks=[add], settings=SETTINGS, clock=clock)
    worker.stop()
    assert (await worker.tick(now=0.0)).claimed == 0
    assert [i.status for i in await store.list("default", TaskQuery())] == [TaskStatus.PENDING]
