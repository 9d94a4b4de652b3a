"""The README's three handlers written with treadle's own API: `python -m examples.distworker.handlers_treadle`.

Typed tasks replace reading input by key: `data` must be a list of numbers before the task
runs (anything else fails at once, without retries, as a `TaskValidationError`); metadata and
progress come from `current_context()`. The URL, worker id and secret come from $TREADLE_URL,
$TREADLE_WORKER_ID and $TREADLE_WORKER_TOKEN; SIGINT or SIGTERM stops it after running tasks finish.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from treadle import Worker, current_context, task


@task(name="handlers.basic")
def basic(key: Any = None) -> dict[str, str]:
    """Read the input, the metadata and the files the submitter attached."""
    ctx = current_context()
    priority = ctx.metadata.get("priority", "normal")
    files = [f["filename"] for f in ctx.metadata.get("files", [])]
    return {"status": "completed", "result": "success", "priority": priority, "files": ", ".join(files)}


@task(name="handlers.progress")
async def long_running() -> dict[str, str]:
    """Report progress while working; clients see each report at once."""
    ctx = current_context()
    for percent, message, seconds in ((25.0, "Processing started", 2), (50.0, "Half way done", 2),
                                      (90.0, "Almost finished", 1)):
        ctx.progress(percent, message)
        await asyncio.sleep(seconds)
    return {"status": "completed"}


@task(name="handlers.safe")
def safe(data: list[float]) -> dict[str, float]:
    """Sum numbers; the argument types do the checking the README's handler does by hand."""
    return {"result": sum(data)}


def main() -> None:
    """Serve the three tasks until interrupted."""
    Worker(os.environ.get("TREADLE_URL", "ws://localhost:8080/ws"), tasks=[basic, long_running, safe]).run_sync()


if __name__ == "__main__":
    main()
