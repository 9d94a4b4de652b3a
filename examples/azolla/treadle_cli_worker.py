"""treadle's way of running workers from the command line: one long-lived `treadle worker` takes every
task it knows by name (as many at once as `--concurrency` allows) until SIGTERM, instead of one process
per task. This script starts one on $TREADLE_URL, submits a task, waits for it and stops the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from treadle import Client

from .treadle_tasks import send_email


def main() -> None:
    """Run a worker beside a client for one task."""
    url = os.environ.get("TREADLE_URL", "http://localhost:52710")
    worker = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--url", url,
                               "--tasks", "examples.azolla.treadle_tasks", "--concurrency", "4"])
    try:
        with Client(url) as client:
            handle = client.submit_task(send_email, {"to": "user@example.com", "subject": "Welcome!",
                                                     "body": "Welcome to our platform!"}).submit()
            result = handle.wait(timeout=30)
            print(f"{result.status.value} after {result.attempts} attempt(s): {result.value}")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    print(f"treadle worker exited {worker.returncode}")


if __name__ == "__main__":
    main()
