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
from treadle.core.records import ClaimedTask, Succeeded, TaskQuery
from treadle.core.registry import Registry
from treadle.core.routing import Pattern
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
