"""Running one orchestration decision: load, replay (pure), and commit what was decided, atomically.

A decision is an ordinary leased task named `treadle.wf:<orchestration>`, so the worker's
machinery (claims, leases, retries after a crash) serves orchestrations too. Committing the
decision finishes that task in the same transaction, so a decision is recorded exactly once:
a runtime that lost its lease commits nothing and the next one decides again.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

from ..core.ids import new_id
from ..core.records import ClaimedTask, Handoff, NewTask
from ..core.registry import Registry
from ..core.retry import DEFAULT_POLICY
from ..errors import ConfigurationError
from ..storage.wf_steps import TIMER_TASK, ChildStart, Decider, DecisionCommit, LoadedInstance, scheduled_key
from ..workflow import commands as c
from ..workflow.replay import replay

logger = logging.getLogger(__name__)


class WorkflowStorage(Protocol):
    """The part of a backend the orchestrator needs (SQLite and PostgreSQL provide it)."""

    async def wf_load(self, namespace: str, instance_id: str) -> LoadedInstance | None: ...

    async def wf_commit(self, commit: DecisionCommit) -> bool: ...


def activity_arguments(input: Any) -> tuple[list[Any], dict[str, Any]]:
    """An activity takes one input: a dict is passed as keyword arguments, anything else as one argument."""
    if isinstance(input, dict):
        return [], dict(input)
    return ([] if input is None else [input]), {}


class Orchestrator:
    """Decides for the orchestrations registered with one worker; counts what it did."""

    def __init__(self, storage: Any, registry: Registry, namespace: str) -> None:
        if not hasattr(storage, "wf_commit"):
            raise ConfigurationError(f"{storage.url} cannot run orchestrations: use a SQLite or PostgreSQL URL")
        self.storage: WorkflowStorage = storage
        self.registry = registry
        self.namespace = namespace
        self.metrics: Counter[str] = Counter()

    async def decide(self, claimed: ClaimedTask, handoff: Handoff | None = None) -> bool:
        """Make and record the decision a claimed decision task asks for.

        False means nothing was recorded because there was nothing to decide (the instance ended
        or is gone): the caller then finishes the task as usual. Work the decision schedules that
        the `handoff` worker takes is leased to it (`handoff.claimed`).
        """
        instance_id = str(claimed.kwargs["instance_id"])
        loaded = await self.storage.wf_load(self.namespace, instance_id)
        if loaded is None or loaded.info.status != "running":
            return False
        lease = (claimed.lease.task_id, claimed.lease.token, claimed.lease.attempt)
        commit = self.plan(loaded, lease, handoff)
        if commit is None:
            raise ConfigurationError(f"orchestration {loaded.info.name} is not registered with this worker")
        committed = await self.storage.wf_commit(commit)
        self.count(commit.decision, committed)
        return True

    def plan(self, loaded: LoadedInstance, lease: tuple[str, str, int] | None,
             handoff: Handoff | None) -> DecisionCommit | None:
        """Replay the instance and say what to write; None if this worker does not know the orchestration."""
        definition = self.registry.orchestration(loaded.info.name)
        if definition is None:
            return None
        info = loaded.info
        events = loaded.history + [event for _, event in loaded.inbox]
        decision = replay(events, definition.fn, now=loaded.now, instance_id=info.instance_id, name=info.name,
                          execution=info.execution, history_length=len(loaded.history))
        return DecisionCommit(
            namespace=self.namespace, instance_id=info.instance_id, execution=info.execution, lease=lease,
            history_length=len(loaded.history), inbox=loaded.inbox,
            decision=decision, tasks=self._tasks(decision, info.instance_id, loaded.uid, info.execution),
            children=[ChildStart(instance_id=cmd.instance_id, name=cmd.name, input=cmd.input, parent_seq=cmd.seq)
                      for cmd in decision.commands if isinstance(cmd, c.ScheduleSubOrchestration)],
            cancel_seqs=[cancel.seq for cancel in decision.cancels], carry_over=decision.carry_over,
            handoff=handoff)

    def decider(self, handoff: Handoff) -> Decider:
        """What lets a store decide in place, inside the transaction that finishes an activity.

        It never raises: a decision it cannot make (an unknown orchestration, an unexpected error)
        is left to a decision task, which reports it the usual way.
        """
        def decide_in_place(loaded: LoadedInstance) -> DecisionCommit | None:
            try:
                return self.plan(loaded, None, handoff)
            except Exception:
                logger.debug("deciding %s in place failed; a decision task will", loaded.info.instance_id,
                             exc_info=True)
                return None

        return decide_in_place

    def count(self, decision: c.Decision, committed: bool) -> None:
        """Count a decision that was made (`committed`) or discarded (its lease or execution had moved on)."""
        if not committed:
            self.metrics["decisions_discarded"] += 1
            return
        self.metrics["decisions"] += 1
        self.metrics["activities_scheduled"] += sum(isinstance(x, c.ScheduleActivity) for x in decision.commands)
        self.metrics["timers_scheduled"] += sum(isinstance(x, c.CreateTimer) for x in decision.commands)
        if decision.status != "running":
            self.metrics[f"orchestrations_{decision.status}"] += 1
            if decision.error and decision.error.get("error_code") == "NONDETERMINISM":
                logger.error("orchestration diverged from its history: %s", decision.error["message"],
                             extra={"event": "nondeterminism"})

    def _tasks(self, decision: c.Decision, instance_id: str, uid: str, execution: int) -> list[NewTask]:
        out = []
        for cmd in decision.commands:
            link: dict[str, Any] = {"namespace": self.namespace, "wf_instance": instance_id, "wf_execution": execution,
                    "wf_seq": cmd.seq, "idempotency_key": scheduled_key(uid, execution, cmd.seq)}
            if isinstance(cmd, c.ScheduleActivity):
                out.append(self._activity(cmd, link))
            elif isinstance(cmd, c.CreateTimer):
                out.append(NewTask(id=new_id(), name=TIMER_TASK, run_at=cmd.fire_at, max_attempts=100,
                                   retry_policy={"max_attempts": 100}, **link))
        return out

    def _activity(self, cmd: c.ScheduleActivity, link: dict[str, Any]) -> NewTask:
        definition = self.registry.get(cmd.name)
        policy = cmd.retry_policy or (definition.retry if definition else DEFAULT_POLICY).to_dict()
        args, kwargs = activity_arguments(cmd.input)
        return NewTask(id=new_id(), name=cmd.name, args=args, kwargs=kwargs, retry_policy=policy,
                       max_attempts=int(policy.get("max_attempts", 3)), session_id=cmd.session_id,
                       timeout_seconds=definition.timeout_seconds if definition else None,
                       priority=definition.priority if definition else 0, **link)
