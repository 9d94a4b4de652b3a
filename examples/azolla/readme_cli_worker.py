"""Azolla README, "CLI Worker": the `azolla-worker` command with the README's flags, spawned the way a
shepherd spawns it, for one task submitted to $TREADLE_URL (default: the README's orchestrator).

The shepherd passes the task's id, name and stored arguments; the worker records the outcome on the
same URL (with $TREADLE_WORKER_ID and $TREADLE_WORKER_TOKEN when the server requires credentials).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

from treadle.compat.azolla import Client

from .readme_tasks import send_email

TASK_MODULES = ["examples.azolla.readme_tasks"]


def azolla_worker() -> str:
    """The console script, found beside this interpreter first (a virtualenv need not be on PATH)."""
    here = os.path.dirname(sys.executable)
    found = shutil.which("azolla-worker", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if found is None:
        raise SystemExit("azolla-worker is not installed: pip install treadle")
    return found


async def main() -> None:
    """Submit a task, let one `azolla-worker` process run it, and show what both sides saw."""
    shepherd_url = os.environ.get("TREADLE_URL", "http://localhost:52710")
    async with await Client.connect(shepherd_url) as client:
        handle = await client.submit_task(send_email, {"to": "user@example.com", "subject": "Welcome!",
                                                       "body": "Welcome to our platform!"}).submit()
        task = await client.get(handle.id)
        worker = subprocess.run([
            azolla_worker(),
            "--task-id", task.id,
            "--name", task.name,
            "--args", json.dumps(task.args),
            "--kwargs", json.dumps(task.kwargs),
            "--shepherd-endpoint", shepherd_url,
            "--task-modules", *TASK_MODULES,
        ], capture_output=True, text=True, timeout=60)
        print(f"azolla-worker exited {worker.returncode}: {worker.stdout.strip() or worker.stderr.strip()}")
        result = await handle.wait(timeout=30)
        print(f"{task.name} {result.status.value} after {result.attempts} attempt(s): {result.value}")


if __name__ == "__main__":
    asyncio.run(main())
