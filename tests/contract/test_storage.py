"""The storage contract: every backend must pass these unchanged.

Time comes from a `FrozenClock`, so lease expiry and delays are tested without sleeping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from treadle.core.clock import FrozenClock
from treadle.core.ids import new_id
from treadle.core.records import (
    LEASE_EXPIRED,
    Cancelled,
    ClaimedTask,
    ErrorInfo,
    Failed,
    LeaseRef,
    NewTask,
    Progress,
    Succeeded,
    TaskQuery,
)
from treadle.core.retry import FixedBackoff, RetryPolicy
from treadle.core.routing import Pattern
from treadle.core.states import TaskStatus
from treadle.errors import InvalidStateError, TaskNotFoundError
from treadle.storage import Storage
from treadle.storage.changes import TASKS, WORK

NS = "default"


def new_task(name: str = "math.add", **kw: Any) -> NewTask:
    policy = kw.pop("policy", RetryPolicy(max_attempts=3, backoff=FixedBackoff(5)))
    return NewTask(id=kw.pop("id", new_id()), name=name, retry_policy=policy.to_dict(),
                   max_attempts=policy.max_attempts, **kw)


async def claim(storage: Storage, patterns: list[str] | None = None, limit: int = 10, worker: str = "w1",
                lease: float = 30.0, namespace: str = NS) -> list[ClaimedTask]:
    batch = await storage.claim(namespace=namespace, worker_id=worker,
                                patterns=[Pattern(p) for p in patterns or ["*"]], limit=limit, lease_seconds=lease)
    return batch.tasks


def boom(attempt: int = 1) -> ErrorInfo:
    return ErrorInfo(message="boom", error_type="ValueError", attempt=attempt)


async def test_enqueued_task_is_pending_with_its_fields(storage: Storage, clock: FrozenClock) -> None:
    # Given a submission with every option set
    task = new_task(args=[1, 2], kwargs={"x": "y"}, priority=3, metadata={"team": "a"}, timeout_seconds=9.5)
    # When it is enqueued
    [stored] = await storage.enqueue([task])
    info = await storage.get(NS, stored.task_id)
    # Then it reads back exactly, pending and due now
    assert stored.created and stored.task_id == task.id
    assert info is not None
    assert (info.name, info.status, info.args, info.kwargs) == ("math.add", TaskStatus.PENDING, [1, 2], {"x": "y"})
    assert (info.priority, info.metadata, info.timeout_seconds, info.attempts) == (3, {"team": "a"}, 9.5, 0)
    assert info.max_attempts == 3 and info.retry_policy["backoff"]["delay"] == 5
    assert info.run_after == info.created_at == clock.now()


async def test_unknown_id_reads_as_none_and_writes_raise(storage: Storage) -> None:
    assert await storage.get(NS, "nope") is None
    with pytest.raises(TaskNotFoundError, match="no task with id 'nope'"):
        await storage.cancel(NS, "nope")
    with pytest.raises(TaskNotFoundError):
        await storage.redrive(NS, "nope")


async def test_same_idempotency_key_returns_the_first_task(storage: Storage) -> None:
    first, second = await storage.enqueue([new_task(idempotency_key="k1"), new_task(idempotency_key="k1")])
    third = (await storage.enqueue([new_task(name="other", idempotency_key="k1")]))[0]
    assert first.created and not second.created and not third.created
    assert first.task_id == second.task_id == third.task_id
    assert len(await storage.list(NS, TaskQuery())) == 1


async def test_idempotency_keys_are_per_namespace(storage: Storage) -> None:
    a, b = await storage.enqueue([new_task(idempotency_key="k"), new_task(idempotency_key="k", namespace="other")])
    assert a.created and b.created and a.task_id != b.task_id


async def test_claim_takes_highest_priority_then_oldest(storage: Storage, clock: FrozenClock) -> None:
    low = new_task(priority=0)
    await storage.enqueue([low])
    clock.advance(1)
    high = new_task(priority=5)
    later_low = new_task(priority=0)
    await storage.enqueue([high, later_low])
    claimed = [await claim(storage, limit=1) for _ in range(3)]
    assert [c[0].id for c in claimed] == [high.id, low.id, later_low.id]


async def test_claim_respects_limit_and_counts_the_attempt(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task() for _ in range(5)])
    batch = await claim(storage, limit=3, lease=30)
    assert len(batch) == 3
    for c in batch:
        assert c.attempt == 1 and c.lease.token and c.lease_expires == clock.now() + 30
    infos = [await storage.get(NS, c.id) for c in batch]
    assert all(i is not None and i.status is TaskStatus.RUNNING and i.worker_id == "w1" for i in infos)
    assert len(await claim(storage, limit=10)) == 2
    assert await claim(storage) == []


@pytest.mark.parametrize("by_id", [False, True], ids=["claim", "claim_task"])
async def test_a_claimed_task_carries_every_field_of_its_submission(storage: Storage, clock: FrozenClock,
                                                                    by_id: bool) -> None:
    # Given a submission with every field a worker needs set to a distinct value
    policy = RetryPolicy(max_attempts=4, backoff=FixedBackoff(2))
    task = new_task(name="math.mul", args=[1, "two"], kwargs={"k": [3]}, priority=7, metadata={"team": "b"},
                    timeout_seconds=12.5, policy=policy)
    await storage.enqueue([task])
    # When it is claimed, by a name pattern or by its id
    if by_id:
        batch = (await storage.claim_task(NS, task.id, "w1", 30.0)).tasks
    else:
        batch = await claim(storage, ["math.*"], lease=30)
    # Then the claim hands back each of them, in its place
    [c] = batch
    assert (c.id, c.namespace, c.name, c.args, c.kwargs) == (task.id, NS, "math.mul", [1, "two"], {"k": [3]})
    assert (c.attempt, c.max_attempts, c.retry_policy) == (1, 4, policy.to_dict())
    assert (c.timeout_seconds, c.metadata, c.priority) == (12.5, {"team": "b"}, 7)
    assert c.lease.token and c.lease_expires == clock.now() + 30 and not c.lease.workflow


@pytest.mark.parametrize(("pattern", "claimed"), [
    ("math.*", {"math.add", "math.mul"}),
    ("math.%", {"math.add", "math.mul"}),
    ("billing.%", {"billing.invoice.v1"}),
    ("*.v1", {"billing.invoice.v1"}),
    ("math.add", {"math.add"}),
    ("math?add", {"math.add"}),
    ("send_email", {"send_email"}),
    ("send%email", {"send_email", "sendXemail"}),
    ("MATH.*", set()),
])
async def test_claim_routes_by_name_pattern(storage: Storage, pattern: str, claimed: set[str]) -> None:
    names = ["math.add", "math.mul", "billing.invoice.v1", "send_email", "sendXemail", "mathematics"]
    await storage.enqueue([new_task(name=n) for n in names])
    got = await claim(storage, [pattern], limit=100)
    assert {c.name for c in got} == claimed


async def test_claim_with_several_patterns(storage: Storage) -> None:
    await storage.enqueue([new_task(name=n) for n in ["billing.a", "payment.b", "notify.c"]])
    got = await claim(storage, ["billing.%", "payment.*"], limit=100)
    assert {c.name for c in got} == {"billing.a", "payment.b"}


async def test_claim_is_scoped_to_the_namespace(storage: Storage) -> None:
    await storage.enqueue([new_task(namespace="tenant-a")])
    assert await claim(storage, namespace="tenant-b") == []
    assert len(await claim(storage, namespace="tenant-a")) == 1


async def test_delayed_task_waits_until_due_and_reports_when(storage: Storage, clock: FrozenClock) -> None:
    task = new_task(delay_seconds=60)
    await storage.enqueue([task])
    batch = await storage.claim(namespace=NS, worker_id="w", patterns=[Pattern("*")], limit=5, lease_seconds=30)
    assert batch.tasks == [] and batch.next_due == clock.now() + 60
    clock.advance(59.9)
    assert await claim(storage) == []
    clock.advance(0.2)
    assert [c.id for c in await claim(storage)] == [task.id]


async def test_run_at_sets_an_absolute_start(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task(run_at=clock.now() + 10)])
    assert await claim(storage) == []
    clock.advance(10)
    assert len(await claim(storage)) == 1


async def test_claim_task_leases_that_one_task_only_when_pending_and_due(storage: Storage, clock: FrozenClock) -> None:
    # Given a due task with a rare name, a second due task, a delayed one and one in another namespace
    mine, other = new_task(name="billing.rare.v9", priority=-5), new_task(priority=9)
    later, elsewhere = new_task(run_at=clock.now() + 10), new_task(namespace="tenant-b")
    await storage.enqueue([mine, other, later, elsewhere])
    # When a runner claims the first by id
    batch = await storage.claim_task(NS, mine.id, "runner", 30)
    # Then it holds that task's lease (whatever its name or priority), and nothing else moved
    [c] = batch.tasks
    assert (c.id, c.name, c.attempt, c.lease_expires) == (mine.id, "billing.rare.v9", 1, clock.now() + 30)
    info = await storage.get(NS, mine.id)
    assert info is not None and info.status is TaskStatus.RUNNING and info.worker_id == "runner"
    untouched = await storage.get(NS, other.id)
    assert untouched is not None and untouched.status is TaskStatus.PENDING
    # And a task that is running, unknown, not yet due or in another namespace is not leased
    assert (await storage.claim_task(NS, mine.id, "someone-else", 30)).tasks == []
    assert (await storage.claim_task(NS, "no-such-task", "runner", 30)).tasks == []
    assert (await storage.claim_task(NS, later.id, "runner", 30)).tasks == []
    assert (await storage.claim_task(NS, elsewhere.id, "runner", 30)).tasks == []
    clock.advance(10)
    assert [t.id for t in (await storage.claim_task(NS, later.id, "runner", 30)).tasks] == [later.id]
    assert [t.id for t in (await storage.claim_task("tenant-b", elsewhere.id, "runner", 30)).tasks] == [elsewhere.id]
    # And the lease records an outcome like any other; a finished task cannot be claimed again
    assert await storage.finish([Succeeded(lease=c.lease, result_json='"done"')]) == [True]
    assert (await storage.claim_task(NS, mine.id, "runner", 30)).tasks == []
    done = await storage.get(NS, mine.id)
    assert done is not None and done.status is TaskStatus.SUCCEEDED and done.result == "done"


async def test_success_is_recorded_once(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    assert await storage.finish([Succeeded(lease=c.lease, result_json='{"sum": 3}')]) == [True]
    assert await storage.finish([Succeeded(lease=c.lease, result_json='{"sum": 4}')]) == [False]
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.SUCCEEDED and info.result == {"sum": 3}
    assert info.finished_at is not None


async def test_retryable_failure_goes_back_to_pending_after_the_delay(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    assert await storage.finish([Failed(lease=c.lease, error=boom(), retry_delay=5.0)]) == [True]
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.PENDING and info.run_after == clock.now() + 5
    assert [e.message for e in info.errors] == ["boom"] and info.error is not None
    assert await claim(storage) == []
    clock.advance(5)
    [again] = await claim(storage)
    assert again.attempt == 2 and again.lease.token != c.lease.token


async def test_final_failure_keeps_every_attempts_error(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    for attempt in (1, 2):
        [c] = await claim(storage)
        await storage.finish([Failed(lease=c.lease, error=boom(attempt), retry_delay=0.0)])
    [c] = await claim(storage)
    assert await storage.finish([Failed(lease=c.lease, error=boom(3), retry_delay=None)]) == [True]
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.FAILED and info.attempts == 3
    assert [e.attempt for e in info.errors] == [1, 2, 3]


async def test_stale_completion_is_refused_after_the_lease_moved(storage: Storage, clock: FrozenClock) -> None:
    # Given a task claimed by w1 whose lease expired and which w2 then claimed
    await storage.enqueue([new_task(policy=RetryPolicy(max_attempts=3, backoff=FixedBackoff(0)))])
    [old] = await claim(storage, worker="w1", lease=10)
    clock.advance(11)
    assert await storage.reap_expired(NS, 100) == 1
    [new] = await claim(storage, worker="w2", lease=10)
    assert new.attempt == 2
    # When w1 finally reports, it is refused (result, heartbeat, progress), and w2's result counts
    assert await storage.finish([Succeeded(lease=old.lease, result_json='"old"')]) == [False]
    assert (await storage.renew([old.lease], 30))[0].alive is False
    assert await storage.set_progress(old.lease, Progress(percent=50)) is False
    assert await storage.finish([Succeeded(lease=new.lease, result_json='"new"')]) == [True]
    info = await storage.get(NS, new.id)
    assert info is not None and info.result == "new" and info.errors[0].error_type == LEASE_EXPIRED


async def test_expired_lease_cannot_complete_even_before_the_sweep(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage, lease=10)
    clock.advance(10.5)
    assert await storage.finish([Succeeded(lease=c.lease, result_json="1")]) == [False]


async def test_forged_token_or_attempt_is_refused(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    forged = [LeaseRef(c.id, "0" * 32, c.attempt), LeaseRef(c.id, c.lease.token, c.attempt + 1)]
    assert await storage.finish([Succeeded(lease=f, result_json="1") for f in forged]) == [False, False]
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.RUNNING


async def test_heartbeat_extends_the_lease_and_never_shortens_it(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage, lease=10)
    clock.advance(8)
    [state] = await storage.renew([c.lease], 60)
    assert state.alive and state.lease_expires == clock.now() + 60
    [state] = await storage.renew([c.lease], 5)
    assert state.lease_expires == clock.now() + 60
    clock.advance(30)
    assert await storage.reap_expired(NS, 10) == 0
    assert await storage.finish([Succeeded(lease=c.lease, result_json="1")]) == [True]


async def test_reading_lease_state_does_not_extend_it(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage, lease=10)
    [state] = await storage.renew([c.lease], None)
    assert state.alive and state.lease_expires == clock.now() + 10 and not state.cancel_requested


async def test_lease_expiry_counts_the_attempt_until_the_task_fails(storage: Storage, clock: FrozenClock) -> None:
    # A task whose worker dies every time still ends failed after max_attempts.
    await storage.enqueue([new_task(policy=RetryPolicy(max_attempts=2, backoff=FixedBackoff(0)))])
    for _ in range(2):
        [c] = await claim(storage, lease=5)
        clock.advance(6)
        assert await storage.reap_expired(NS, 10) == 1
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.FAILED and info.attempts == 2
    assert [e.error_type for e in info.errors] == [LEASE_EXPIRED, LEASE_EXPIRED]
    assert await claim(storage) == []


async def test_lease_expiry_applies_the_backoff(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task(policy=RetryPolicy(max_attempts=3, backoff=FixedBackoff(20)))])
    await claim(storage, lease=5)
    clock.advance(6)
    await storage.reap_expired(NS, 10)
    assert await claim(storage) == []
    clock.advance(20)
    assert len(await claim(storage)) == 1


async def test_cancel_pending_is_immediate_and_final(storage: Storage) -> None:
    await storage.enqueue([task := new_task()])
    info = await storage.cancel(NS, task.id)
    assert info.status is TaskStatus.CANCELLED and info.finished_at is not None
    assert await claim(storage) == []
    again = await storage.cancel(NS, task.id)
    assert again.status is TaskStatus.CANCELLED


async def test_cancel_running_is_requested_and_seen_by_the_holder(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    info = await storage.cancel(NS, c.id)
    assert info.status is TaskStatus.RUNNING and info.cancel_requested
    [state] = await storage.renew([c.lease], None)
    assert state.alive and state.cancel_requested
    assert await storage.finish([Cancelled(lease=c.lease)]) == [True]
    final = await storage.get(NS, c.id)
    assert final is not None and final.status is TaskStatus.CANCELLED


async def test_cancel_of_a_finished_task_changes_nothing(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    await storage.finish([Succeeded(lease=c.lease, result_json="1")])
    info = await storage.cancel(NS, c.id)
    assert info.status is TaskStatus.SUCCEEDED and not info.cancel_requested


async def test_expired_lease_of_a_cancel_requested_task_ends_cancelled(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage, lease=5)
    await storage.cancel(NS, c.id)
    clock.advance(6)
    await storage.reap_expired(NS, 10)
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.CANCELLED


async def test_redrive_sends_failed_task_back_with_fresh_attempts(storage: Storage) -> None:
    await storage.enqueue([new_task(policy=RetryPolicy(max_attempts=1))])
    [c] = await claim(storage)
    await storage.finish([Failed(lease=c.lease, error=boom(), retry_delay=None)])
    info = await storage.redrive(NS, c.id)
    assert info.status is TaskStatus.PENDING and info.attempts == 0 and len(info.errors) == 1
    [again] = await claim(storage)
    assert again.attempt == 1


@pytest.mark.parametrize("state", ["pending", "running", "succeeded"])
async def test_redrive_refuses_tasks_that_are_not_failed_or_cancelled(storage: Storage, state: str) -> None:
    await storage.enqueue([task := new_task()])
    if state != "pending":
        [c] = await claim(storage)
        if state == "succeeded":
            await storage.finish([Succeeded(lease=c.lease, result_json="1")])
    with pytest.raises(InvalidStateError, match=f"is {state}; only failed or cancelled"):
        await storage.redrive(NS, task.id)


async def test_progress_is_visible_while_running(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    assert await storage.set_progress(c.lease, Progress(percent=40, message="copying", data={"files": 4}))
    info = await storage.get(NS, c.id)
    assert info is not None and info.progress is not None
    assert (info.progress.percent, info.progress.message, info.progress.data) == (40, "copying", {"files": 4})
    assert info.progress.at == clock.now()


async def test_release_returns_tasks_without_counting_the_attempt(storage: Storage) -> None:
    await storage.enqueue([new_task(), new_task()])
    claimed = await claim(storage)
    assert await storage.release([c.lease for c in claimed]) == 2
    again = await claim(storage)
    assert sorted(c.attempt for c in again) == [1, 1]
    assert await storage.finish([Succeeded(lease=claimed[0].lease, result_json="1")]) == [False]


async def test_outcomes_in_one_batch_are_judged_one_by_one(storage: Storage) -> None:
    await storage.enqueue([new_task(), new_task()])
    a, b = await claim(storage)
    stale = LeaseRef(b.id, "f" * 32, b.attempt)
    results = await storage.finish([Succeeded(lease=a.lease, result_json="1"),
                                    Succeeded(lease=stale, result_json="2")])
    assert results == [True, False]


async def test_list_filters_by_status_name_and_time(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task(name="billing.a"), new_task(name="notify.b")])
    cutoff = clock.advance(10)
    await storage.enqueue([new_task(name="billing.c")])
    [c] = await claim(storage, ["notify.*"])
    await storage.finish([Succeeded(lease=c.lease, result_json="1")])

    async def names(**kw: Any) -> list[str]:
        return [i.name for i in await storage.list(NS, TaskQuery(**kw))]

    assert await names() == ["billing.c", "notify.b", "billing.a"]
    assert await names(statuses=(TaskStatus.SUCCEEDED,)) == ["notify.b"]
    assert await names(statuses=(TaskStatus.PENDING, TaskStatus.SUCCEEDED)) == ["billing.c", "notify.b", "billing.a"]
    assert await names(name_pattern="billing.*") == ["billing.c", "billing.a"]
    assert await names(created_after=cutoff) == ["billing.c"]
    assert await names(created_before=cutoff) == ["notify.b", "billing.a"]
    assert await names(limit=1, offset=1) == ["notify.b"]
    assert await storage.list("elsewhere", TaskQuery()) == []


async def test_many_concurrent_claimers_never_share_a_task(storage: Storage) -> None:
    await storage.enqueue([new_task() for _ in range(200)])
    batches = await asyncio.gather(*(claim(storage, limit=7, worker=f"w{i}") for i in range(40)))
    ids = [c.id for batch in batches for c in batch]
    assert len(ids) == 200 and len(set(ids)) == 200


async def settle(storage: Storage, kind: str = WORK) -> None:
    """Wait until no hint arrives for a while (a listener may signal once when it connects)."""
    for _ in range(50):
        token = storage.change_token(kind)
        if await storage.wait_for_change(token, 0.2, kind) == token:
            return
    raise AssertionError("change hints never stopped")


async def test_new_work_wakes_a_worker_waiting_for_work(storage: Storage) -> None:
    await settle(storage)
    token = storage.change_token(WORK)
    waiter = asyncio.create_task(storage.wait_for_change(token, 5.0, WORK))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await storage.enqueue([new_task()])
    assert await asyncio.wait_for(waiter, 2.0) > token


async def test_a_finished_task_wakes_a_result_waiter(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    await settle(storage, TASKS)
    token = storage.change_token(TASKS)
    waiter = asyncio.create_task(storage.wait_for_change(token, 5.0, TASKS))
    assert await storage.finish([Succeeded(lease=c.lease, result_json="1")]) == [True]
    assert await asyncio.wait_for(waiter, 2.0) > token


async def test_wait_for_change_times_out_quietly(storage: Storage) -> None:
    await settle(storage)
    token = storage.change_token(WORK)
    assert await storage.wait_for_change(token, 0.05, WORK) == token


async def test_a_retry_is_not_scheduled_once_cancellation_was_requested(storage: Storage) -> None:
    # Given a running task whose cancellation was requested
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    await storage.cancel(NS, c.id)
    # When its attempt fails with retries left (before the worker saw the request)
    assert await storage.finish([Failed(lease=c.lease, error=boom(), retry_delay=0.0)]) == [True]
    # Then it ends cancelled instead of running again
    info = await storage.get(NS, c.id)
    assert info is not None and info.status is TaskStatus.CANCELLED and info.finished_at is not None
    assert await claim(storage) == []


async def test_release_of_an_expired_lease_is_refused(storage: Storage, clock: FrozenClock) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage, lease=5)
    clock.advance(6)
    assert await storage.release([c.lease]) == 0
    info = await storage.get(NS, c.id)
    assert info is not None and info.attempts == 1


async def test_submitting_the_same_id_twice_stores_one_task(storage: Storage) -> None:
    task = new_task()
    first = await storage.enqueue([task])
    again = await storage.enqueue([task, task])
    assert [(e.task_id, e.created) for e in first + again] == [(task.id, True), (task.id, False), (task.id, False)]
    assert len(await storage.list(NS, TaskQuery())) == 1


async def test_progress_data_reads_back_as_json(storage: Storage) -> None:
    await storage.enqueue([new_task()])
    [c] = await claim(storage)
    assert await storage.set_progress(c.lease, Progress(percent=1, data={"pair": (1, 2), "n": 3}))
    info = await storage.get(NS, c.id)
    assert info is not None and info.progress is not None and info.progress.data == {"pair": [1, 2], "n": 3}


async def test_a_closed_storage_can_be_opened_again(storage: Storage) -> None:
    await storage.enqueue([task := new_task()])
    await storage.close()
    await storage.open()
    assert (await storage.get(NS, task.id)) is not None
