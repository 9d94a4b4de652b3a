"""The worker driven one `tick(now)` at a time against the in-memory backend and a frozen clock."""

from __future__ import annotations

import asyncio
import threading

import pytest

from treadle import FixedBackoff, RetryPolicy, TaskStatus, Worker, WorkerSettings, current_context, task
from treadle.core.clock import FrozenClock
from treadle.core.records import NewTask, TaskQuery
from treadle.errors import StorageError
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


async def enqueue_with(store: MemoryStorage, name: str, *args: str) -> str:
    t = NewTask(id=f"{name}{args}", name=name, args=list(args),
                retry_policy=RetryPolicy(max_attempts=3, backoff=FixedBackoff(0)).to_dict(), max_attempts=3)
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


@task(name="tick.deaf")
def deaf(gate: str) -> str:
    """A sync task that ignores cancellation until the gate of its attempt opens."""
    GATES[f"{gate}-{current_context().attempt}"].wait(10)
    return gate


GATES: dict[str, threading.Event] = {}


async def test_a_stale_attempt_finishing_late_does_not_untrack_the_new_one() -> None:
    # Given attempt 1 of a task stuck in a thread past its lease, and attempt 2 claimed by the same worker
    clock = FrozenClock()
    store = MemoryStorage(clock=clock)
    GATES["g1-1"], GATES["g1-2"] = threading.Event(), threading.Event()
    task_id = await enqueue_with(store, "tick.deaf", "g1")
    worker = Worker(store, tasks=[deaf], concurrency=2, settings=SETTINGS, clock=clock)
    await worker.tick(now=0.0)
    clock.advance(11)                        # attempt 1's lease expires: no heartbeat reached the store
    await worker.tick(now=1.0)               # the sweep sends it back to pending, and it is claimed again
    info = await store.get("default", task_id)
    assert info is not None and info.attempts == 2 and worker.running == 2
    # When attempt 1 finally returns
    GATES["g1-1"].set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        await worker.tick(now=1.1)
        if worker.running < 2:
            break
    # Then attempt 2 is still tracked (so still heartbeated), and it alone is recorded
    assert worker.running == 1
    GATES["g1-2"].set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        await worker.tick(now=1.2)
        if worker.running == 0:
            break
    info = await store.get("default", task_id)
    assert info is not None and info.status is TaskStatus.SUCCEEDED and info.attempts == 2


class FlakyFinish(MemoryStorage):
    """A real memory store whose next `finish` fails, as a storage outage would."""

    fail_next = False

    async def finish(self, outcomes, handoff=None):  # type: ignore[no-untyped-def]
        if self.fail_next:
            self.fail_next = False
            raise StorageError("the store went away")
        return await super().finish(outcomes, handoff)


async def test_a_failed_flush_still_starts_what_the_same_tick_claimed() -> None:
    clock = FrozenClock()
    store = FlakyFinish(clock=clock)
    first = await enqueue(store, "tick.add", 1, 1)
    worker = Worker(store, tasks=[add], concurrency=1, settings=SETTINGS, clock=clock)
    await worker.tick(now=0.0)
    await settle()
    second = await enqueue(store, "tick.add", 2, 2)
    store.fail_next = True
    with pytest.raises(StorageError):
        await worker.tick(now=0.1)          # the flush fails, the claim of the second task succeeds
    await settle()
    await worker.tick(now=0.2)
    await settle()
    await worker.tick(now=0.3)
    results = [await store.get("default", i) for i in (first, second)]
    assert [(r.status, r.result) for r in results if r] == [(TaskStatus.SUCCEEDED, 2), (TaskStatus.SUCCEEDED, 4)]


class CountingStorage(MemoryStorage):
    """The in-memory backend, counting claims."""

    claims = 0

    async def claim(self, **kwargs):  # type: ignore[no-untyped-def,override]
        self.claims += 1
        return await super().claim(**kwargs)


async def test_after_taking_all_there_was_a_worker_claims_again_only_on_a_change_or_the_poll() -> None:
    clock = FrozenClock()
    store = CountingStorage(clock=clock)
    worker = Worker(store, tasks=[add], concurrency=4, settings=SETTINGS, clock=clock)
    await enqueue(store, "tick.add", 1, 1)

    assert (await worker.tick(now=0.0)).claimed == 1          # 1 of 4 slots: all there was
    await settle()
    assert (await worker.tick(now=0.1)).finished == 1
    assert store.claims == 1                                   # finishing it announced no new work

    await enqueue(store, "tick.add", 2, 2)
    assert (await worker.tick(now=0.2)).claimed == 1
    assert store.claims == 2
    await settle()
    await worker.tick(now=0.3)
    assert store.claims == 2
    await worker.tick(now=0.3 + SETTINGS.poll_seconds)         # the fallback poll asks again anyway
    assert store.claims == 3
