"""The quick start written with treadle's own API: `python -m examples.distworker.quickstart_treadle`.

One typed task instead of a handler that reads its input by key: arguments are checked
before the task runs, so an unknown operation or a missing number fails at once, without
retries, as a `TaskValidationError`. `run_sync()` blocks until SIGINT or SIGTERM, then lets
running tasks finish and exits 0. The URL, worker id and secret come from $TREADLE_URL,
$TREADLE_WORKER_ID and $TREADLE_WORKER_TOKEN.
"""

from __future__ import annotations

import os
from typing import Literal

from treadle import Worker, task


@task(name="math.calc")
def calculate(operation: Literal["add", "multiply"], a: float, b: float) -> dict[str, float]:
    """Add or multiply two numbers."""
    return {"result": a + b if operation == "add" else a * b}


def main() -> None:
    """Serve `math.calc` until interrupted."""
    worker = Worker(os.environ.get("TREADLE_URL", "ws://localhost:8080/ws"), tasks=[calculate],
                    resource_info={"cpu_cores": 4, "memory_mb": 8192})
    worker.run_sync()


if __name__ == "__main__":
    main()
