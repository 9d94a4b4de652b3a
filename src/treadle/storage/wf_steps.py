"""The orchestration store's transactions, written once for every SQL backend.

Each function here is a generator that yields `(query name, parameters, mode)` and receives the
answer: one row (`"one"`), all rows (`"all"`), a row count (`"count"`), or nothing (`"exec"`: the
statement may be sent without waiting for it, so a backend can pipeline a run of them). `"late"`
asks for all rows but accepts None: a backend that can settle the answer after its commit (see
`Handoff.confirm`) sends the statement as it would an `"exec"`, sparing a round trip. It may
also yield a list of such queries, independent of each other, and receive the list of their
answers: a backend that can sends them in one round trip. A backend runs it inside
one transaction of its own, with its own queries of the same names (`sql/<dialect>/queries.sql`),
so the logic of starting, deciding, signalling and terminating lives in one place. Nothing here
does I/O. JSON is text both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ..core import serde
from ..core.ids import new_id, new_token
from ..core.records import Handoff, InstanceInfo, NewTask
from ..errors import InstanceNotFoundError
from ..workflow import history as h
from ..workflow.commands import Decision
from .changes import INSTANCES, TASKS, WORK

Query = tuple[str, dict[str, Any], str]
Steps = Generator[Query | list[Query], Any, Any]

DECISION_PREFIX = "treadle.wf:"
TIMER_TASK = "treadle.timer"
TERMINAL = ("succeeded", "failed", "cancelled")
MOVED_ON_KINDS = (h.EVENT_RAISED, h.EVENT_QUEUED)   # inputs continue-as-new hands to the next execution


_SIGNALS = {"wf_insert_task": WORK, "wf_end": INSTANCES, "wf_terminate": INSTANCES,
            "wf_set_new_execution": INSTANCES, "wf_delete_instance": INSTANCES,
            "wf_cancel_pending_task": TASKS, "wf_cancel_running_task": TASKS}


def signals(name: str, params: dict[str, Any]) -> str:
    """The kinds of change (`changes`) a statement of these steps makes, for a backend to notify.

    A task leased at birth (`wf_insert_claimed_task`) wakes no one: its worker already has it.
    """
    if name == "wf_start_instance":
        return WORK if params["unleased"] else ""
    if name == "wf_advance":
        return (INSTANCES if params["status_changed"] else "") + (WORK if params["unleased"] else "")
    return _SIGNALS.get(name, "")


def decision_key(uid: str, gen: int) -> str:
    """The idempotency key of an instance's decision task of one generation.

    Keys name the instance's incarnation (`uid`), not its id: ids are the user's (they may hold
    colons, and may be reused after a delete), so an id-based key could meet another instance's.
    `wf_lock_for_decision` spells the same key in SQL.
    """
    return f"wf-d:{uid}:{gen}"


def scheduled_key(uid: str, execution: int, seq: int) -> str:
    """The idempotency key of the activity or timer an execution scheduled at `seq`."""
    return f"wf-a:{uid}:{execution}:{seq}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedInstance:
    """What a decision needs: the instance, its history, the inputs waiting for it, and the store's time."""

    info: InstanceInfo
    uid: str                    # this incarnation of the id (see `decision_key`)
    decision_gen: int
    history: list[h.HistoryEvent]
    inbox: list[tuple[int | None, h.HistoryEvent]]   # (inbox seq, event); None: an input not stored yet
    now: float


def instance_from_row(row: dict[str, Any]) -> InstanceInfo:
    """An `InstanceInfo` from a `wf_instances` row (JSON as text)."""
    return InstanceInfo(
        instance_id=row["instance_id"], namespace=row["namespace"], name=row["name"], status=row["status"],
        execution=row["execution"], input=serde.loads(row["input"]), output=serde.loads(row["output"]),
        error=serde.loads(row["error"]), custom_status=serde.loads(row["custom_status"]),
        custom_status_version=row["custom_status_version"], parent_instance_id=row["parent_instance_id"],
        created_at=row["created_at"], updated_at=row["updated_at"], finished_at=row["finished_at"])


def loaded_from_rows(inst: dict[str, Any], fresh: h.HistoryEvent | None = None) -> LoadedInstance:
    """A `LoadedInstance` from an instance row with `now` and `events` (`wf_load_instance`), plus a new input."""
    history: list[h.HistoryEvent] = []
    waiting: list[tuple[int | None, h.HistoryEvent]] = []
    for src, seq, kind, data in serde.loads(inst["events"]):
        if src == "h":
            history.append(h.HistoryEvent(kind, data))
        else:
            waiting.append((seq, h.HistoryEvent(kind, data)))
    if fresh is not None:
        waiting.append((None, fresh))
    return LoadedInstance(info=instance_from_row(inst), uid=inst["uid"], decision_gen=inst["decision_gen"],
                          history=history, inbox=waiting, now=float(inst["now"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildStart:
    """A sub-orchestration a decision starts."""

    instance_id: str
    name: str
    input: Any
    parent_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionCommit:
    """Everything one decision writes, in one transaction."""

    namespace: str
    instance_id: str
    execution: int
    lease: tuple[str, str, int] | None     # the decision task's (id, token, attempt); None: decided in place
    history_length: int
    inbox: list[tuple[int | None, h.HistoryEvent]]   # the inputs the decision consumed (see `LoadedInstance`)
    decision: Decision
    tasks: list[NewTask] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    cancel_seqs: list[int] = field(default_factory=list)
    carry_over: list[h.HistoryEvent] = field(default_factory=list)
    handoff: Handoff | None = None         # the deciding worker, to lease it what follows


Decider = Callable[[LoadedInstance], DecisionCommit | None]
"""What `Handoff.decider` is: the decision for a loaded instance, or None to leave it to a decision task."""


def task_params(task: NewTask) -> dict[str, Any]:
    """The parameters of `wf_insert_task` for a task an orchestration schedules (JSON as text)."""
    return task_record(task) | {"args": serde.dumps(task.args), "kwargs": serde.dumps(task.kwargs),
                                "retry_policy": serde.dumps(task.retry_policy),
                                "metadata": serde.dumps(task.metadata)}


def task_record(task: NewTask, lease: tuple[str, Handoff] | None = None) -> dict[str, Any]:
    """A task an orchestration schedules, as one element of `wf_advance`'s `tasks` (values as JSON).

    With `lease` (its token, and the worker's handoff) it is inserted leased at birth to that worker.
    """
    return {"id": task.id, "namespace": task.namespace, "name": task.name, "args": task.args,
            "kwargs": task.kwargs, "priority": task.priority, "run_at": task.run_at,
            "max_attempts": task.max_attempts, "retry_policy": task.retry_policy,
            "timeout_seconds": task.timeout_seconds, "idempotency_key": task.idempotency_key,
            "metadata": task.metadata, "wf_instance": task.wf_instance, "wf_execution": task.wf_execution,
            "wf_seq": task.wf_seq, "session_id": task.session_id,
            "lease_token": lease[0] if lease else None,
            "lease_seconds": lease[1].lease_seconds if lease else None,
            "worker_id": lease[1].worker_id if lease else None}


def _key(namespace: str, instance_id: str) -> dict[str, Any]:
    return {"namespace": namespace, "instance_id": instance_id}


def insert_task(task: NewTask, now: float, handoff: Handoff | None) -> Steps:
    """Insert a task an orchestration needs: leased at birth to the `handoff` worker if it takes it."""
    if handoff is None or not handoff.take(task):
        yield ("wf_insert_task", task_params(task) | {"now": now}, "exec")
        return
    token = new_token()
    row = yield ("wf_insert_claimed_task", task_params(task) | {
        "now": now, "worker_id": handoff.worker_id, "lease_token": token,
        "lease_seconds": handoff.lease_seconds}, "one")
    if row is None:                     # the task existed (its idempotency key)
        handoff.give_back()
    else:
        handoff.lease(task, token, row["lease_expires"])


def ensure_decision(namespace: str, instance_id: str, now: float, handoff: Handoff | None = None,
                    inst: dict[str, Any] | None = None) -> Steps:
    """Make sure a decision task is pending for a running instance (one per decision generation).

    `inst` is the instance's row when the caller holds its lock already (as it is now).
    """
    if inst is None:
        inst = yield ("wf_lock_instance", _key(namespace, instance_id), "one")
    if inst is None or inst["status"] != "running":
        return
    decision = _decision_task(namespace, instance_id, inst["name"], inst["uid"], inst["decision_gen"],
                              inst["execution"])
    yield from insert_task(decision, now, handoff)


def _decision_task(namespace: str, instance_id: str, name: str, uid: str, gen: int, execution: int) -> NewTask:
    """The decision task of one generation of an instance (its idempotency key makes it one)."""
    return NewTask(id=new_id(), name=DECISION_PREFIX + name, namespace=namespace,
                   kwargs={"instance_id": instance_id}, max_attempts=1000,
                   retry_policy={"max_attempts": 1000, "backoff": {"kind": "exponential", "initial": 0.1,
                                                                    "multiplier": 2.0, "max_delay": 5.0,
                                                                    "jitter": False}},
                   idempotency_key=decision_key(uid, gen), wf_instance=instance_id, wf_execution=execution)


def append_history(namespace: str, instance_id: str, execution: int, events: list[h.HistoryEvent],
                   start: int, now: float) -> Steps:
    """Append events at positions start+1, start+2, ... (one statement)."""
    if not events:
        return
    yield ("wf_append_history", _key(namespace, instance_id) | {
        "execution": execution, "start": start, "events": _events_json(events), "now": now}, "exec")


def _events_json(events: list[h.HistoryEvent]) -> str:
    """History events as the `events` parameter of the statements that append them."""
    return serde.dumps([[event.kind, serde.dumps(event.data)] for event in events])


def _decided(commit: DecisionCommit, consumed: list[h.HistoryEvent]) -> list[h.HistoryEvent]:
    """The events a decision appends: its start time first, so a replay applies the inputs it consumed
    at the time they were handled, then those inputs, then what it decided."""
    events = commit.decision.new_events
    return [*events[:1], *consumed, *events[1:]]


def start_instance(namespace: str, instance_id: str, name: str, input: Any, now: float, *,
                   parent: tuple[str, int, int] | None = None, handoff: Handoff | None = None) -> Steps:
    """Create an instance with its first history event and its first decision; False if it exists.

    One statement (`wf_start_instance`); the decision task is leased at birth to the `handoff`
    worker if it takes it.
    """
    uid = new_id()
    first = h.started(name, input, instance_id=instance_id, execution=1, now=now)
    decision = _decision_task(namespace, instance_id, name, uid, 0, 1)
    token = new_token() if handoff is not None and handoff.take(decision) else None
    lease = (token, handoff) if token is not None and handoff is not None else None
    created = yield ("wf_start_instance", _key(namespace, instance_id) | {
        "name": name, "uid": uid, "input": serde.dumps(input), "now": now,
        "parent_instance_id": parent[0] if parent else None, "parent_execution": parent[1] if parent else None,
        "parent_seq": parent[2] if parent else None, "kind": first.kind, "data": serde.dumps(first.data),
        "tasks": serde.dumps([task_record(decision, lease)]), "unleased": lease is None}, "one")
    if lease is not None:
        if created is not None and created["decision_lease_expires"] is not None:
            lease[1].lease(decision, lease[0], created["decision_lease_expires"])
        else:
            lease[1].give_back()
    return created is not None


def deliver(namespace: str, instance_id: str, event: h.HistoryEvent, now: float, *,
            execution: int | None = None, missing_ok: bool = False, handoff: Handoff | None = None,
            locked: bool = False, read: dict[str, Any] | None = None) -> Steps:
    """Put an input in the instance's inbox and make sure a decision will read it.

    `execution` pins it to one execution (an activity result is dropped if the instance has moved
    on with continue-as-new); events and queue messages go to the current one. With a `handoff`
    that has a decider, the input may instead be decided at once (`_decide_in_place`): the
    instance is then read with its history in the statement after the one that locked it, or in
    the first if the caller holds the lock already (`locked`), or not at all if the caller read it
    so already (`read`: its `wf_lock_for_decision` row).
    """
    key = _key(namespace, instance_id)
    decider: Decider | None = handoff.decider if handoff is not None else None
    if decider is None or handoff is None:
        inst = yield ("wf_lock_instance", key, "one")
    elif read is not None:
        inst = read
    else:
        if not locked:
            yield ("wf_lock_instance", key, "exec")
        inst = yield ("wf_lock_for_decision", key | {"now": now}, "one")
    if inst is None:
        if missing_ok:
            return False
        raise InstanceNotFoundError(instance_id)
    if inst["status"] != "running" or (execution is not None and execution != inst["execution"]):
        return False
    if decider is not None and handoff is not None and inst.get("events") is not None \
            and DECISION_PREFIX + inst["name"] in handoff.names:
        decided = yield from _decide_in_place(loaded_from_rows(inst, event), inst, decider, now, handoff)
        if decided:
            return True
    yield ("wf_inbox_add", key | {
        "execution": inst["execution"], "kind": event.kind, "data": serde.dumps(event.data), "now": now}, "exec")
    yield from ensure_decision(namespace, instance_id, now, handoff, inst)
    return True


def _result_event(task: dict[str, Any]) -> h.HistoryEvent | None:
    seq, status = task["wf_seq"], task["status"]
    if task["name"] == TIMER_TASK:
        return h.HistoryEvent(h.TIMER_FIRED, {"seq": seq}) if status == "succeeded" else None
    if status == "succeeded":
        return h.HistoryEvent(h.ACTIVITY_COMPLETED, {"seq": seq, "result": serde.loads(task["result"])})
    error = serde.loads(task["error"]) or {"message": f"the activity was {status}", "error_type": "Cancelled"}
    return h.HistoryEvent(h.ACTIVITY_FAILED, {"seq": seq, "error": error})


def _decide_in_place(loaded: LoadedInstance, inst: dict[str, Any], decider: Decider, now: float,
                     handoff: Handoff) -> Steps:
    """Decide now, in the transaction that brought the input, instead of through a decision task.

    The caller holds the instance's lock and has checked that no decision task of this
    generation exists, so this is the only decision of it; its commit bumps the generation
    like any other. It also checked that nothing else of the instance is in flight: while
    other activities run (a fan-out), their results are better gathered by one decision
    than replayed one by one. A decision that ends the execution makes its output a result,
    so its commit must be durable: this transaction (an activity's, which need not be) is
    made durable by the ending's own statement (`wf_end`) where the store can (`Handoff.may_end`); elsewhere
    the ending is left to a decision task, whose commit is durable.
    """
    commit = decider(loaded)
    if commit is None:
        return False
    if commit.decision.status != "running" and not handoff.may_end:
        return False
    yield from _apply_decision(commit, inst, now, inbox_read=True)
    handoff.decided.append(commit.decision)
    return True


def task_finished(task: dict[str, Any], now: float, handoff: Handoff | None = None, *, locked: bool = False,
                  read: dict[str, Any] | None = None) -> Steps:
    """After a task reached a terminal state: if an orchestration waits for it, deliver its outcome.

    `task` is the row the terminal statement returned (`id, namespace, name, status, result,
    error, wf_instance, wf_execution, wf_seq`, JSON as text); `locked`: that statement locked
    the task's instance too (PostgreSQL's `succeed_wf`); `read`: see `deliver`.
    """
    if task["wf_instance"] is None or task["status"] not in TERMINAL \
            or task["name"].startswith(DECISION_PREFIX) or task["wf_seq"] is None:
        return
    event = _result_event(task)
    if event is not None:
        yield from deliver(task["namespace"], task["wf_instance"], event, now, execution=task["wf_execution"],
                           missing_ok=True, handoff=handoff, locked=locked, read=read)


def load(namespace: str, instance_id: str, now: float) -> Steps:
    """The instance with its current execution's history and pending inbox, and the store's time.

    Read only, no locks, one statement (one snapshot); a caller checks what it read against the
    instance when it commits (a decision's commit does).
    """
    return (yield ("wf_load_instance", _key(namespace, instance_id) | {"now": now}, "one"))


def _cancel_open_tasks(namespace: str, instance_id: str, execution: int | None, seq: int | None,
                       now: float) -> Steps:
    rows = yield ("wf_open_tasks", _key(namespace, instance_id) | {"execution": execution, "seq": seq}, "all")
    for row in rows:
        if row["status"] == "pending":
            cancelled = yield ("wf_cancel_pending_task", {"id": row["id"], "now": now}, "one")
            if cancelled is not None:   # delivered like any other end (dropped if the instance ended)
                yield from task_finished(cancelled, now)
        else:
            yield ("wf_cancel_running_task", {"id": row["id"], "now": now}, "exec")


def commit_decision(commit: DecisionCommit, now: float) -> Steps:
    """Record one decision atomically; False if its lease or its execution is no longer current."""
    ns, iid = commit.namespace, commit.instance_id
    assert commit.lease is not None, "a decision made in place is applied by `deliver`"
    task_id, token, attempt = commit.lease
    if commit.handoff is not None:
        commit.handoff.reset()                 # this may be a retry of the transaction
    # the instance first, then its task: every transaction takes locks in that order
    inst, finished = yield [("wf_lock_instance", _key(ns, iid), "one"),
                            ("wf_finish_decision", {"id": task_id, "token": token, "attempt": attempt, "now": now},
                             "count")]
    if not finished:
        return False
    if inst is None or inst["status"] != "running" or inst["execution"] != commit.execution:
        return False
    yield from _apply_decision(commit, inst, now)
    return True


def _apply_decision(commit: DecisionCommit, inst: dict[str, Any], now: float, *, inbox_read: bool = False) -> Steps:
    """Write what a decision decided; the caller holds the instance's lock and checked it is current.

    `inbox_read`: the decision read the inbox under this lock, so no input can have arrived since.
    A decision that keeps the execution running writes its history, its tasks and the instance
    in one statement (`wf_advance`): the common step, made as cheap as it can be.
    """
    ns, iid = commit.namespace, commit.instance_id
    status = commit.decision.status
    running = status == "running"
    if running:
        yield from _advance(commit, inst, now)
    else:
        if status == "continued_as_new":
            yield from _write_history(commit, now)
        else:
            yield from _end(commit, inst, now)
        for task in commit.tasks:
            yield from insert_task(task, now, commit.handoff)
    for child in commit.children:
        created = yield from start_instance(ns, child.instance_id, child.name, child.input, now,
                                            parent=(iid, commit.execution, child.parent_seq), handoff=commit.handoff)
        if not created:     # the id is taken: the parent learns it at once rather than waiting forever
            error = {"message": f"an orchestration instance {child.instance_id!r} already exists",
                     "error_type": "InstanceExistsError"}
            yield ("wf_inbox_add", _key(ns, iid) | {
                "execution": commit.execution, "kind": h.SUB_ORCHESTRATION_FAILED,
                "data": serde.dumps({"seq": child.parent_seq, "error": error}), "now": now}, "exec")
    for seq in commit.cancel_seqs:
        yield from _cancel_open_tasks(ns, iid, commit.execution, seq, now)
    if running:
        if not inbox_read:
            pending = yield ("wf_inbox", _key(ns, iid) | {"execution": commit.execution}, "all")
            if pending:     # inputs that arrived while deciding: the next generation's decision reads them
                yield from ensure_decision(ns, iid, now, commit.handoff,
                                           inst | {"decision_gen": inst["decision_gen"] + 1})
        return
    yield from _update_instance(commit, inst, now)


def _advance(commit: DecisionCommit, inst: dict[str, Any], now: float) -> Steps:
    """History, tasks and the instance's new generation of a decision that keeps running: one statement.

    Its answer (which tasks leased at birth were inserted) may come after the commit (`"late"`): the
    leases are then recorded at once, to be confirmed (`Handoff.confirm`), with an expiry reckoned
    from the store's time read in this transaction (or the caller's), a little early if anything.
    """
    handoff = commit.handoff
    consumed = yield from _consume_inbox(commit)
    leases = {task.id: new_token() for task in commit.tasks if handoff is not None and handoff.take(task)}
    records = [task_record(task, (leases[task.id], handoff) if handoff is not None and task.id in leases else None)
               for task in commit.tasks]
    rows = yield ("wf_advance", _status_params(commit, inst, now) | {
        "execution": commit.execution, "start": commit.history_length,
        "events": _events_json(_decided(commit, consumed)),
        "tasks": serde.dumps(records, what="task arguments"), "unleased": len(records) > len(leases)},
        "late" if leases else "exec")
    if handoff is None or not leases:
        return
    inserted = None if rows is None else {row["id"]: row["lease_expires"] for row in rows
                                          if row["lease_token"] is not None}
    expires = float(inst.get("now") or now) + handoff.lease_seconds
    for task in commit.tasks:
        if task.id not in leases:
            continue
        if inserted is None:
            handoff.lease(task, leases[task.id], expires, confirmed=False)
        elif task.id in inserted:
            handoff.lease(task, leases[task.id], inserted[task.id])
        else:                       # the task existed (its idempotency key)
            handoff.give_back()


def _consume_inbox(commit: DecisionCommit) -> Steps:
    """Drop the stored inputs a decision consumed; the consumed inputs, to be written to history."""
    stored = [seq for seq, _ in commit.inbox if seq is not None]
    if stored:    # inbox inserts hold the instance's lock, so seqs commit in order: none below is unseen
        yield ("wf_inbox_consume", _key(commit.namespace, commit.instance_id) | {
            "execution": commit.execution, "upto": max(stored)}, "exec")
    return [event for _, event in commit.inbox]


def _write_history(commit: DecisionCommit, now: float) -> Steps:
    consumed = yield from _consume_inbox(commit)
    yield from append_history(commit.namespace, commit.instance_id, commit.execution, _decided(commit, consumed),
                              commit.history_length, now)


def _status_params(commit: DecisionCommit, inst: dict[str, Any], now: float) -> dict[str, Any]:
    """The instance's key and custom status after a decision, and whether that changed."""
    decision = commit.decision
    status_text = serde.dumps(decision.custom_status) if decision.custom_status_set else inst["custom_status"]
    return _key(commit.namespace, commit.instance_id) | {
        "custom_status": status_text, "status_changed": 1 if status_text != inst["custom_status"] else 0, "now": now}


def _end(commit: DecisionCommit, inst: dict[str, Any], now: float) -> Steps:
    """History, dropped inbox and finished instance of a decision that ends its execution: one statement.

    It makes its transaction's commit durable where the store can (PostgreSQL): an output is a result.
    """
    decision = commit.decision
    yield ("wf_end", _status_params(commit, inst, now) | {      # the inbox goes: nothing to consume first
        "execution": commit.execution, "start": commit.history_length,
        "events": _events_json(_decided(commit, [event for _, event in commit.inbox])),
        "status": decision.status, "output": serde.dumps(decision.output),
        "error": serde.dumps(decision.error) if decision.error else None}, "exec")


def _update_instance(commit: DecisionCommit, inst: dict[str, Any], now: float) -> Steps:
    """The instance after a decision that ends its execution: continued as new, or its parent told."""
    ns, decision = commit.namespace, commit.decision
    if decision.status == "continued_as_new":
        yield from _continue_as_new(commit, _status_params(commit, inst, now), now)
        return
    if inst["parent_instance_id"] is not None:
        kind = h.SUB_ORCHESTRATION_COMPLETED if decision.status == "completed" else h.SUB_ORCHESTRATION_FAILED
        data = {"seq": inst["parent_seq"], "result": decision.output} if decision.status == "completed" else \
            {"seq": inst["parent_seq"], "error": decision.error}
        yield from deliver(ns, inst["parent_instance_id"], h.HistoryEvent(kind, data), now,
                           execution=inst["parent_execution"], missing_ok=True)


def _continue_as_new(commit: DecisionCommit, common: dict[str, Any], now: float) -> Steps:
    ns, iid, decision = commit.namespace, commit.instance_id, commit.decision
    new_execution = commit.execution + 1
    yield ("wf_set_new_execution", common | {"input": serde.dumps(decision.continue_input)}, "exec")
    inst = yield ("wf_lock_instance", _key(ns, iid), "one")
    first = h.started(inst["name"], decision.continue_input, instance_id=iid, execution=new_execution, now=now)
    yield from append_history(ns, iid, new_execution, [first], 0, now)
    # Events no one waited for move on to the new execution, oldest first, then the events that
    # arrived meanwhile; results of the old execution's work arriving meanwhile are dropped.
    arrived = yield ("wf_inbox", _key(ns, iid) | {"execution": commit.execution}, "all")
    yield ("wf_inbox_drop", _key(ns, iid) | {"execution": commit.execution}, "exec")
    moved = [*((e.kind, serde.dumps(e.data)) for e in commit.carry_over),
             *((r["kind"], r["data"]) for r in arrived if r["kind"] in MOVED_ON_KINDS)]
    for kind, data in moved:
        yield ("wf_inbox_add", _key(ns, iid) | {"execution": new_execution, "kind": kind, "data": data,
                                                "now": now}, "exec")
    yield from ensure_decision(ns, iid, now, commit.handoff)


def terminate(namespace: str, instance_id: str, reason: str, now: float, *, cascade: bool = True) -> Steps:
    """Stop an instance (and its running children): its open tasks are cancelled; False if it had ended."""
    inst = yield ("wf_lock_instance", _key(namespace, instance_id), "one")
    if inst is None:
        raise InstanceNotFoundError(instance_id)
    error = {"message": reason, "error_type": "Terminated"}
    changed = yield ("wf_terminate", _key(namespace, instance_id) | {"error": serde.dumps(error), "now": now}, "count")
    if not changed:
        return False
    length = yield ("wf_history_length", _key(namespace, instance_id) | {"execution": inst["execution"]}, "one")
    yield from append_history(namespace, instance_id, inst["execution"],
                              [h.HistoryEvent(h.EXECUTION_TERMINATED, {"reason": reason})], length["n"], now)
    yield from _cancel_open_tasks(namespace, instance_id, None, None, now)
    yield ("wf_inbox_drop", _key(namespace, instance_id) | {"execution": inst["execution"]}, "exec")
    if inst["parent_instance_id"] is not None:      # a parent waiting for this child learns it failed
        yield from deliver(namespace, inst["parent_instance_id"], h.HistoryEvent(h.SUB_ORCHESTRATION_FAILED, {
            "seq": inst["parent_seq"], "error": error}), now, execution=inst["parent_execution"], missing_ok=True)
    if cascade:
        children = yield ("wf_children", _key(namespace, instance_id), "all")
        for child in children:
            yield from terminate(namespace, child["instance_id"], f"parent terminated: {reason}", now)
    return True


def delete(namespace: str, instance_id: str) -> Steps:
    """Remove an instance, its history, inbox and children; True if it existed."""
    inst = yield ("wf_lock_instance", _key(namespace, instance_id), "one")
    if inst is None:
        return False
    children = yield ("wf_children", _key(namespace, instance_id), "all")
    for child in children:
        yield from delete(namespace, child["instance_id"])
    # its tasks go too: a late result of a deleted instance must not reach one that reuses the id
    for query in ("wf_delete_history", "wf_delete_inbox", "wf_delete_tasks", "wf_delete_instance"):
        yield (query, _key(namespace, instance_id), "exec")
    return True
