"""The DistWorker README's "Task Handling" handlers, only the import changed: `python -m examples.distworker.handlers`.

It serves the README's three handlers as tasks `handlers.basic` ("Basic Handler"),
`handlers.progress` ("Progress Reporting") and `handlers.safe` ("Error Handling") until Ctrl-C,
which lets a running task finish first. The worker reads its server URL, id and secret from
$DISTWORKER_CONTROLLER_URL, $DISTWORKER_WORKER_ID and $DISTWORKER_WORKER_TOKEN. The README
leaves `default_value`, `process_data` and the module-level `worker` to the reader; they are
defined below the handlers, which are the README's code as it stands.
"""

# ruff: noqa: F841, B904
from __future__ import annotations

import asyncio
import contextlib

from treadle.compat.distworker import Task, Worker


async def my_task_handler(task: Task):
    # Access input data
    input_value = task.get_input('key', default_value)

    # Access metadata
    priority = task.get_metadata('priority', 'normal')

    # Access files
    for file_info in task.files:
        file_id = file_info['file_id']
        filename = file_info['filename']
        storage_url = file_info['storage_url']

    # Return results
    return {'status': 'completed', 'result': 'success'}


async def long_running_task(task: Task):
    # Send progress updates
    await worker.send_task_progress(25.0, "Processing started")
    await asyncio.sleep(2)

    await worker.send_task_progress(50.0, "Half way done")
    await asyncio.sleep(2)

    await worker.send_task_progress(90.0, "Almost finished")
    await asyncio.sleep(1)

    return {'status': 'completed'}


async def safe_task_handler(task: Task):
    try:
        # Task processing logic
        result = process_data(task.get_input('data'))
        return {'result': result}
    except ValueError as e:
        # Task will be marked as failed with this error
        raise e
    except Exception as e:
        # Convert to a more specific error
        raise RuntimeError(f"Processing failed: {e}")


# ---- what the README leaves to the reader

default_value = None
worker: Worker


def process_data(data: object) -> float:
    """Sum a list of numbers: anything but a list is a ValueError, a list of non-numbers a TypeError."""
    if not isinstance(data, list):
        raise ValueError(f"data must be a list of numbers, got {data!r}")
    return sum(data)


async def main() -> None:
    """Serve the three handlers until interrupted."""
    global worker
    worker = Worker(resource_info={'role': 'readme-handlers'})
    worker.register_handler('handlers.basic', my_task_handler)
    worker.register_handler('handlers.progress', long_running_task)
    worker.register_handler('handlers.safe', safe_task_handler)
    await worker.start()
    try:
        await asyncio.Event().wait()      # until Ctrl-C or SIGTERM
    finally:
        await worker.stop()


if __name__ == '__main__':
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
