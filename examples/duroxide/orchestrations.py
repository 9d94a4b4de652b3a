"""duroxide's "Orchestrations" example, run end to end: `python -m examples.duroxide.orchestrations`.

The orchestration is the README's, as written. Below it is what the README leaves out: the
activities and the sub-orchestration it calls, and a client that sends the approval event and
the inbox message it waits for. It takes a little over five seconds (its durable timer).
"""

from __future__ import annotations

# ruff: noqa: F841 - the README's orchestration names results it does not use
from treadle.compat.duroxide import Client, Runtime, SqliteProvider

from .env import provider_from_env

provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)


@runtime.register_orchestration("MyWorkflow")
def my_workflow(ctx, input):
    # Schedule activities
    result = yield ctx.schedule_activity("DoWork", input)

    # Fan-out / Fan-in
    results = yield ctx.all([
        ctx.schedule_activity("TaskA", {"id": 1}),
        ctx.schedule_activity("TaskB", {"id": 2}),
    ])

    # Timer
    yield ctx.schedule_timer(5000)  # 5 seconds

    # Wait for external event
    approval = yield ctx.wait_for_event("approval")

    # Sub-orchestration
    sub_result = yield ctx.schedule_sub_orchestration("SubWorkflow", input)

    # Race (first to complete wins)
    winner = yield ctx.race(
        ctx.schedule_activity("Fast", None),
        ctx.schedule_timer(10000),
    )

    # Custom status (fire-and-forget, no yield)
    ctx.set_custom_status("processing complete")

    # Dequeue from event queue (FIFO, blocks until message available)
    msg = yield ctx.dequeue_event("inbox")

    return {"result": result, "winner": winner}


# ---------------------------------------------------------------- what the README leaves out

@runtime.register_activity("DoWork")
def do_work(ctx, input):
    return {"worked_on": input["order"]}


@runtime.register_activity("TaskA")
def task_a(ctx, input):
    return f"A{input['id']}"


@runtime.register_activity("TaskB")
def task_b(ctx, input):
    return f"B{input['id']}"


@runtime.register_activity("Fast")
def fast(ctx, input):
    return "fast"


@runtime.register_orchestration("SubWorkflow")
def sub_workflow(ctx, input):
    return (yield ctx.schedule_activity("DoWork", input))


def main():
    """Start MyWorkflow, send it what it waits for, and print how it ended."""
    runtime.start()
    client = Client(provider)
    try:
        client.start_orchestration("my-workflow-1", "MyWorkflow", {"order": 42})
        client.raise_event("my-workflow-1", "approval", {"approved_by": "ada"})
        client.enqueue_event("my-workflow-1", "inbox", "hello")
        status = client.wait_for_orchestration("my-workflow-1", 60_000)
        print(status.status, status.custom_status)
        print(status.output)
    finally:
        client.close()
        runtime.shutdown()


if __name__ == "__main__":
    main()
