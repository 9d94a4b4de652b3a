"""The DistWorker README's quick start with only the import changed: `python -m examples.distworker.quickstart`.

The controller URL comes from $DISTWORKER_CONTROLLER_URL (default: the README's
ws://localhost:8080/ws, a treadle server's worker endpoint). The worker signs in as
`math-worker-001` with the README's secret `your-worker-token`, so that credential must exist
on the server. It runs tasks named `math.*` with input {"operation": "add", "a": 2, "b": 3}
until Ctrl-C, which stops it gracefully and then, as in the README, ends `asyncio.run` with
KeyboardInterrupt (the README's `except KeyboardInterrupt` is never reached under `asyncio.run`,
which turns Ctrl-C into a cancellation of `main`).
"""

from __future__ import annotations

import asyncio
import os

from treadle.compat.distworker import Task, Worker


async def handle_math_task(task: Task):
    """Handle mathematical operations"""
    operation = task.get_input('operation')
    a = task.get_input('a')
    b = task.get_input('b')

    if operation == 'add':
        result = a + b
    elif operation == 'multiply':
        result = a * b
    else:
        raise ValueError(f"Unknown operation: {operation}")

    return {'result': result}

async def main():
    # Create worker
    worker = Worker(
        controller_url=os.environ.get('DISTWORKER_CONTROLLER_URL', 'ws://localhost:8080/ws'),
        worker_id='math-worker-001',
        worker_token='your-worker-token',
        resource_info={'cpu_cores': 4, 'memory_mb': 8192}
    )

    # Register task handler
    worker.register_handler('math.*', handle_math_task)

    # Start worker
    await worker.start()

    # Keep running
    try:
        while True:
            await asyncio.sleep(1)
    except KeyboardInterrupt:
        await worker.stop()

if __name__ == '__main__':
    asyncio.run(main())
