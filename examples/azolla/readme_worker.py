"""Azolla README, "Process Tasks (Worker)" (imports changed): one attempt, run in this process."""

from __future__ import annotations

import asyncio

from treadle.compat.azolla import Worker, WorkerInvocation

from .readme_tasks import send_email


async def main():
    worker = Worker.builder().register_task(send_email).build()

    invocation = WorkerInvocation.from_json(
        task_id="demo",
        task_name="send_email",
        args_json='["user@example.com", "Welcome!", "Welcome to our platform!"]',
        kwargs_json='{}',
        shepherd_endpoint="http://127.0.0.1:50052",
    )

    execution = await worker.execute(invocation)
    print(execution.value)

asyncio.run(main())
