"""duroxide's "Custom Status" example, run end to end: `python -m examples.duroxide.custom_status`.

The orchestration and the polling lines are the README's. Around them: the two activities it
calls (`Validate` holds on until the client has seen the first status, so the README's comment
`"step 1: validating"` is what it prints), and a client that starts "instance-1".
"""

from __future__ import annotations

import threading

from treadle.compat.duroxide import Client, Runtime, SqliteProvider

from .env import provider_from_env

provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)
status_seen = threading.Event()


@runtime.register_orchestration("ProgressWorkflow")
def progress_workflow(ctx, input):
    ctx.set_custom_status("step 1: validating")
    yield ctx.schedule_activity("Validate", input)

    ctx.set_custom_status("step 2: processing")
    result = yield ctx.schedule_activity("Process", input)

    ctx.reset_custom_status()  # clear status
    return result


# ---------------------------------------------------------------- what the README leaves out

@runtime.register_activity("Validate")
def validate(ctx, input):
    status_seen.wait(30)
    return True


@runtime.register_activity("Process")
def process(ctx, input):
    return {"processed": input["items"]}


def main():
    """Start instance-1, poll its status the README's way, then let it finish."""
    runtime.start()
    client = Client(provider)
    try:
        client.start_orchestration("instance-1", "ProgressWorkflow", {"items": 3})

        # Poll for status changes from outside
        status = client.wait_for_status_change("instance-1", 0, 50, 10000)
        if status:
            print(status.custom_status)          # "step 1: validating"
            print(status.custom_status_version)  # monotonically increasing counter

        status_seen.set()
        final = client.wait_for_orchestration("instance-1", 10_000)
        print(final.status, final.output, final.custom_status)
    finally:
        status_seen.set()
        client.close()
        runtime.shutdown()


if __name__ == "__main__":
    main()
