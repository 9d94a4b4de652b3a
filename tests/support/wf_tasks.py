"""Orchestrations and activities that the crash tests run in real runtime processes.

Activities record `tag:start` and `tag:end` in the ledger of e2e_tasks (one file per process).
"""

from __future__ import annotations

import time
from typing import Any

from e2e_tasks import record

from treadle import OrchestrationContext, orchestration, task


@task(name="crash.step")
def step(tag: str, seconds: float = 0.1) -> str:
    """A step with a visible side effect before and after its work."""
    record(f"{tag}:start")
    time.sleep(seconds)
    record(f"{tag}:end")
    return tag


@orchestration(name="crash.steps")
def steps(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """`count` sequential steps, then a durable timer."""
    done = []
    for i in range(input["count"]):
        done.append((yield ctx.schedule_activity(step, {"tag": f"{ctx.instance_id}/{i}",
                                                        "seconds": input.get("seconds", 0.1)})))
    yield ctx.schedule_timer(input.get("nap_ms", 0))
    return len(done)


@orchestration(name="crash.nap")
def nap(ctx: OrchestrationContext, ms: int) -> Any:
    """A long durable timer, then one step."""
    yield ctx.schedule_timer(ms)
    return (yield ctx.schedule_activity(step, {"tag": f"{ctx.instance_id}/after", "seconds": 0}))
