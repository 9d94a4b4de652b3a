"""The "Orchestrations" example in treadle's own words: `python -m examples.duroxide.orchestrations_treadle`.

Differences from duroxide's: `ctx.all` yields the values themselves (and raises the first
failure), `ctx.race` yields a `RaceResult(index, value)`, activities take typed arguments.
"""

from __future__ import annotations

from typing import Any

from treadle import Client, OrchestrationContext, Runtime

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)


@runtime.orchestration("MyWorkflow")
def my_workflow(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """Every kind of step, in order."""
    result = yield ctx.schedule_activity("DoWork", input)
    a, b = yield ctx.all([ctx.schedule_activity("TaskA", {"id": 1}), ctx.schedule_activity("TaskB", {"id": 2})])
    yield ctx.schedule_timer(5000)
    approval = yield ctx.wait_for_event("approval")
    sub_result = yield ctx.schedule_sub_orchestration("SubWorkflow", input)
    winner = yield ctx.race(ctx.schedule_activity("Fast"), ctx.schedule_timer(10_000))
    ctx.set_custom_status({"step": "processing complete"})
    msg = yield ctx.dequeue_event("inbox")
    return {"result": result, "fan_in": [a, b], "approval": approval, "sub": sub_result,
            "winner": winner.index, "msg": msg}


@runtime.activity("DoWork")
def do_work(order: int) -> dict[str, int]:
    """Works on an order."""
    return {"worked_on": order}


@runtime.activity("TaskA")
def task_a(id: int) -> str:
    """One half of the fan-out."""
    return f"A{id}"


@runtime.activity("TaskB")
def task_b(id: int) -> str:
    """The other half."""
    return f"B{id}"


@runtime.activity("Fast")
def fast() -> str:
    """Wins the race against a ten-second timer."""
    return "fast"


@runtime.orchestration("SubWorkflow")
def sub_workflow(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """A child orchestration."""
    return (yield ctx.schedule_activity("DoWork", input))


def main() -> None:
    """Start MyWorkflow, send it what it waits for, print how it ended."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("my-workflow-1", "MyWorkflow", {"order": 42})
            client.raise_event("my-workflow-1", "approval", {"approved_by": "ada"})
            client.enqueue_event("my-workflow-1", "inbox", "hello")
            info = client.wait_for_orchestration("my-workflow-1", timeout=60)
            print(info.status, info.custom_status)
            print(info.output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
