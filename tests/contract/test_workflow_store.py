"""The orchestration store's transactions, on SQLite and PostgreSQL, with interleavings chosen by the test.

Decisions are made by the real `Orchestrator`; what happens "meanwhile" (between a decision's
load and its commit) is run by a wrapper around the real storage just before it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from treadle import OrchestrationContext, orchestration
from treadle.core.clock import FrozenClock
from treadle.core.records import ClaimedTask, Handoff, Succeeded, TaskQuery
from treadle.core.registry import Registry
from treadle.core.routing import Pattern
from treadle.core.states import TaskStatus
from treadle.engine.orchestrator import Orchestrator
from treadle.storage import open_storage
from treadle.storage.wf_steps import DecisionCommit
from treadle.workflow import history as h

NS = "default"


@orchestration(name="t.hand_over")
def hand_over(ctx: OrchestrationContext, n: int) -> Any:
    """Execution 1 starts an activity it never waits for, takes one `go`, and continues as new."""
    if n > 0:
        return (yield ctx.wait_for_event("go"))
    ctx.schedule_activity("t.work", 1)
    yield ctx.wait_for_event("go")
    return (yield ctx.continue_as_new(1))


@orchestration(name="t.solo")
def solo(ctx: OrchestrationContext, _: Any) -> Any:
    return (yield ctx.wait_for_event("go"))


@orchestration(name="t.pair")
def pair(ctx: OrchestrationContext, _: Any) -> Any:
    first = yield ctx.schedule_activity("t.step", 1)
    second = yield ctx.schedule_activity("t.step", first + 1)
    return [first, second]


@orchestration(name="t.spread")
def spread(ctx: OrchestrationContext, n: int) -> Any:
    return (yield ctx.all([ctx.schedule_activity("t.step", k) for k in range(n)]))


@orchestration(name="t.adopter")
def adopter(ctx: OrchestrationContext, child_id: str) -> Any:
    return (yield ctx.schedule_sub_orchestration("t.solo", None, instance_id=child_id))


class Interleaved:
    """The real storage, except that `meanwhile` runs right before the next decision commits."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.url = storage.url
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    async def wf_load(self, namespace: str, instance_id: str) -> Any:
        return await self.storage.wf_load(namespace, instance_id)

    async def wf_commit(self, commit: DecisionCommit) -> bool:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return bool(await self.storage.wf_commit(commit))


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[Any]:
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else db_url
    storage = open_storage(url, clock=FrozenClock())
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def registry(*orchestrations: Any) -> Registry:
    out = Registry()
    for o in orchestrations:
        out.add_orchestration(o)
    return out


async def claim_one(store: Any, pattern: str) -> ClaimedTask:
    batch = await store.claim(namespace=NS, worker_id="w1", patterns=[Pattern(pattern)], limit=1, lease_seconds=30)
    assert len(batch.tasks) == 1, f"expected one {pattern} task"
    return batch.tasks[0]


async def decide(orchestrator: Orchestrator, store: Any) -> None:
    assert await orchestrator.decide(await claim_one(store, "treadle.wf:*"))


async def decide_all(orchestrator: Orchestrator, store: Any) -> int:
    """Make every pending decision, as a worker would; how many there were."""
    made = 0
    while batch := (await store.claim(namespace=NS, worker_id="w1", patterns=[Pattern("treadle.wf:*")], limit=1,
                                      lease_seconds=30)).tasks:
        if not await orchestrator.decide(batch[0]):       # nothing to decide: finish it like the worker does
            assert await store.finish([Succeeded(lease=batch[0].lease, result_json="null")]) == [True]
        made += 1
    return made


async def test_continue_as_new_hands_over_events_in_order_and_drops_late_results(store: Any) -> None:
    wrapped = Interleaved(store)
    orchestrator = Orchestrator(wrapped, registry(hand_over), NS)
    await store.wf_start(NS, "i1", "t.hand_over", 0)
    await decide(orchestrator, store)                       # schedules t.work, waits for go
    for data in ("first", "second"):
        await store.wf_deliver(NS, "i1", h.HistoryEvent(h.EVENT_RAISED, {"name": "go", "data": data}))

    async def meanwhile() -> None:                         # arrive after the decision loaded its inputs
        work = await claim_one(store, "t.work")
        assert await store.finish([Succeeded(lease=work.lease, result_json="42")]) == [True]
        await store.wf_deliver(NS, "i1", h.HistoryEvent(h.EVENT_RAISED, {"name": "go", "data": "third"}))

    wrapped.meanwhile = meanwhile
    await decide(orchestrator, store)                       # takes "first", continues as new
    loaded = await store.wf_load(NS, "i1")
    assert loaded.info.execution == 2
    assert [(e.kind, e.data.get("data")) for _, e in loaded.inbox] == [
        (h.EVENT_RAISED, "second"), (h.EVENT_RAISED, "third")]
    await decide(orchestrator, store)
    info = await store.wf_get(NS, "i1")
    assert (info.status, info.output) == ("completed", "second")


async def test_terminating_a_child_fails_the_parents_wait(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(adopter, solo), NS)
    await store.wf_start(NS, "p", "t.adopter", "p-child")
    await decide(orchestrator, store)                       # the parent starts its child
    assert (await store.wf_get(NS, "p-child")).status == "running"
    assert await store.wf_terminate(NS, "p-child", "operator said so")
    assert await decide_all(orchestrator, store) >= 1       # the parent hears of it
    info = await store.wf_get(NS, "p")
    assert info.status == "failed" and info.error["error_type"] == "Terminated"   # the child's error, passed up
    assert "operator said so" in info.error["message"]


async def test_a_child_id_already_taken_fails_the_parents_wait_at_once(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(adopter, solo), NS)
    await store.wf_start(NS, "someone-else", "t.solo", None)
    await store.wf_start(NS, "p", "t.adopter", "someone-else")
    assert await orchestrator.decide(await claim_one(store, "treadle.wf:t.adopter"))
    assert await orchestrator.decide(await claim_one(store, "treadle.wf:t.adopter"))
    info = await store.wf_get(NS, "p")
    assert info.status == "failed" and info.error["error_type"] == "InstanceExistsError"
    assert "'someone-else' already exists" in info.error["message"]
    assert (await store.wf_get(NS, "someone-else")).parent_instance_id is None


async def test_an_id_reused_after_delete_is_a_new_instance(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(hand_over), NS)
    await store.wf_start(NS, "again", "t.hand_over", 0)
    await decide(orchestrator, store)
    assert await store.wf_delete(NS, "again")
    assert await store.list(NS, TaskQuery()) == []           # its activity went with it
    assert await store.wf_start(NS, "again", "t.hand_over", 0)
    await decide(orchestrator, store)                       # its first decision was not taken for the old one's
    work = await claim_one(store, "t.work")
    assert work.kwargs == {} and work.args == [1]


def handoff_for(orchestrator: Orchestrator, *names: str) -> Handoff:
    """What a worker running `names` passes with the outcomes it records."""
    handoff = Handoff(worker_id="w1", lease_seconds=30, names=frozenset(names), room=4)
    handoff.decider = orchestrator.decider(handoff)
    return handoff


async def finish_with(store: Any, claimed: ClaimedTask, result: str, handoff: Handoff) -> None:
    assert await store.finish([Succeeded(lease=claimed.lease, result_json=result)], handoff) == [True]


async def test_a_sequential_step_is_decided_in_the_activitys_own_transaction(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(pair), NS)
    await store.wf_start(NS, "p1", "t.pair", None)
    await decide(orchestrator, store)                       # the first decision is a task: it schedules step 1
    handoff = handoff_for(orchestrator, "t.step", "treadle.wf:t.pair")
    await finish_with(store, await claim_one(store, "t.step"), "1", handoff)
    assert len(handoff.decided) == 1                        # decided in place ...
    assert [c.name for c in handoff.claimed] == ["t.step"]  # ... and the next step leased to this worker
    assert handoff.claimed[0].args == [2]
    decisions = await store.list(NS, TaskQuery(name_pattern="treadle.wf:*"))
    assert [t.status.value for t in decisions] == ["succeeded"]     # no decision task for that step
    kinds = [e.kind for e in await store.wf_history(NS, "p1")]
    assert kinds.count(h.ACTIVITY_COMPLETED) == 1 and kinds.count(h.ACTIVITY_SCHEDULED) == 2

    last = handoff_for(orchestrator, "t.step", "treadle.wf:t.pair")
    await finish_with(store, handoff.claimed[0], "2", last)
    if last.may_end:        # PostgreSQL: the end, too, is decided in place, in a transaction made durable
        assert [d.status for d in last.decided] == ["completed"] and last.claimed == []
    else:                   # SQLite: the end of an execution goes through a decision task, whose commit is durable
        assert last.decided == []
        assert [c.name for c in last.claimed] == ["treadle.wf:t.pair"]
        assert await orchestrator.decide(last.claimed[0])
    assert last.may_end == store.url.startswith("postgres")
    info = await store.wf_get(NS, "p1")
    assert (info.status, info.output) == ("completed", [1, 2])
    decisions = await store.list(NS, TaskQuery(name_pattern="treadle.wf:*"))
    assert len(decisions) == (1 if last.may_end else 2)
    assert await store.list(NS, TaskQuery(statuses=(TaskStatus.PENDING, TaskStatus.RUNNING))) == []


async def test_an_ending_decided_in_place_commits_durably_where_its_step_did_not(pg_url: str) -> None:
    """On PostgreSQL an activity's finish skips the WAL flush; the one that ends its execution must not.

    A trigger records, inside each transaction that writes the instance, the `synchronous_commit`
    it will commit with.
    """
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    store = open_storage(pg_url, clock=FrozenClock())
    await store.open()
    try:
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")
            conn.execute("CREATE TABLE commit_modes (status text, mode text)")
            conn.execute("CREATE FUNCTION record_mode() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                         "INSERT INTO commit_modes VALUES (NEW.status, current_setting('synchronous_commit')); "
                         "RETURN NEW; END $$")
            conn.execute("CREATE TRIGGER record_mode AFTER UPDATE ON wf_instances FOR EACH ROW "
                         "EXECUTE FUNCTION record_mode()")
            orchestrator = Orchestrator(store, registry(pair), NS)
            await store.wf_start(NS, "p1", "t.pair", None)
            await decide(orchestrator, store)
            conn.execute("DELETE FROM commit_modes")
            handoff = handoff_for(orchestrator, "t.step", "treadle.wf:t.pair")
            await finish_with(store, await claim_one(store, "t.step"), "1", handoff)     # step 1, in place
            last = handoff_for(orchestrator, "t.step", "treadle.wf:t.pair")
            await finish_with(store, handoff.claimed[0], "2", last)                      # the end, in place
            assert [d.status for d in [*handoff.decided, *last.decided]] == ["running", "completed"]
            modes = conn.execute("SELECT status, mode FROM commit_modes").fetchall()
    finally:
        await store.close()
    assert modes == [("running", "off"), ("completed", "on")]


async def test_a_fan_outs_results_gather_for_one_decision_task(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(spread), NS)
    await store.wf_start(NS, "f1", "t.spread", 3)
    await decide(orchestrator, store)
    steps = [await claim_one(store, "t.step") for _ in range(3)]
    handoffs = [handoff_for(orchestrator, "t.step", "treadle.wf:t.spread") for _ in steps]
    for claimed, handoff in zip(steps, handoffs, strict=True):
        await finish_with(store, claimed, str(claimed.args[0] * 10), handoff)
        assert handoff.decided == []                        # others in flight, then a decision task open
    leased = [c for handoff in handoffs for c in handoff.claimed]
    assert [c.name for c in leased] == ["treadle.wf:t.spread"]       # one decision for the three results
    assert await orchestrator.decide(leased[0])
    info = await store.wf_get(NS, "f1")
    assert (info.status, info.output) == ("completed", [0, 10, 20])


async def test_no_decision_in_place_for_an_orchestration_this_worker_does_not_run(store: Any) -> None:
    orchestrator = Orchestrator(store, registry(pair), NS)
    await store.wf_start(NS, "p2", "t.pair", None)
    await decide(orchestrator, store)
    handoff = handoff_for(orchestrator, "t.step")           # runs the activity, not the orchestration
    await finish_with(store, await claim_one(store, "t.step"), "1", handoff)
    assert handoff.decided == [] and handoff.claimed == []
    assert await decide_all(orchestrator, store) == 1      # a decision task, for a worker that runs it
    assert [t.args for t in await store.list(NS, TaskQuery(name_pattern="t.step"))
            if t.status.value == "pending"] == [[2]]


async def test_one_batch_of_results_reports_to_several_instances_at_once(store: Any) -> None:
    """A worker records many activities in one call: each instance gets its own, and room is not overpromised."""
    orchestrator = Orchestrator(store, registry(pair, spread), NS)
    for instance in ("b1", "b2", "b3"):
        await store.wf_start(NS, instance, "t.pair", None)
    await store.wf_start(NS, "s1", "t.spread", 2)
    assert await decide_all(orchestrator, store) == 4
    batch = await store.claim(namespace=NS, worker_id="w1", patterns=[Pattern("t.step")], limit=10, lease_seconds=30)
    assert len(batch.tasks) == 5
    handoff = handoff_for(orchestrator, "t.step", "treadle.wf:t.pair", "treadle.wf:t.spread")
    handoff.room = 2
    results = [Succeeded(lease=t.lease, result_json=str(t.args[0])) for t in batch.tasks]
    assert await store.finish(results, handoff) == [True] * 5
    assert len(handoff.claimed) == 2 and handoff.taken == 2         # room for two, however many were due
    kinds = {i: [e.kind for e in await store.wf_history(NS, i)] for i in ("b1", "b2", "b3")}
    assert all(k.count(h.ACTIVITY_COMPLETED) == 1 and k.count(h.ACTIVITY_SCHEDULED) == 2 for k in kinds.values())
    pending = [t for t in await store.list(NS, TaskQuery(name_pattern="*")) if t.status.value == "pending"]
    # 3 second steps and the spread's decision, none lost; where an ending may be decided in place
    # (PostgreSQL), the spread's last result ended it in its own transaction
    assert len(pending) + len(handoff.claimed) == (3 if handoff.may_end else 4)
    assert ((await store.wf_get(NS, "s1")).status == "completed") == handoff.may_end
    for claimed in handoff.claimed:
        if claimed.name == "t.step":
            await finish_with(store, claimed, "2", handoff_for(orchestrator, "t.step"))
        else:
            assert await orchestrator.decide(claimed)
    while steps := (await store.claim(namespace=NS, worker_id="w1", patterns=[Pattern("t.step")], limit=10,
                                      lease_seconds=30)).tasks:
        assert await store.finish([Succeeded(lease=t.lease, result_json="2") for t in steps]) == [True] * len(steps)
    await decide_all(orchestrator, store)
    outputs = {i: ((await store.wf_get(NS, i)).status, (await store.wf_get(NS, i)).output)
               for i in ("b1", "b2", "b3", "s1")}
    assert outputs == {"b1": ("completed", [1, 2]), "b2": ("completed", [1, 2]), "b3": ("completed", [1, 2]),
                       "s1": ("completed", [0, 1])}
