"""Azolla README, "Worker Invocation" (imports changed; its top-level `await` is wrapped in `main()` so it
runs as a script, and `greet_user` and `SendEmailTask` come from `readme_tasks`)."""

from __future__ import annotations

import asyncio

from treadle.compat.azolla import Worker, WorkerInvocation

from .readme_tasks import SendEmailTask, greet_user


async def main():
    worker = (
        Worker.builder()
        .register_task(greet_user)  # @azolla_task-decorated function
        .register_task(SendEmailTask())
        .build()
    )

    invocation = WorkerInvocation.from_json(
        task_id="demo-123",
        task_name="greet_user",
        args_json='["Alice"]',
        kwargs_json='{"language": "fr"}',
        shepherd_endpoint="http://127.0.0.1:50052",
    )

    execution = await worker.execute(invocation)
    print(execution.value)

    # When running under a shepherd, call run_invocation to report the result back:
    # await worker.run_invocation(invocation)

asyncio.run(main())
