"""The "Custom Status" example in treadle's own words: `python -m examples.duroxide.custom_status_treadle`.

A custom status is any JSON value, and `wait_for_status_change` waits for its version to move
(timeouts in seconds; it raises `WaitTimeoutError` when time runs out).
"""

from __future__ import annotations

import threading
from typing import Any

from treadle import Client, OrchestrationContext, Runtime

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)
status_seen = threading.Event()


@runtime.orchestration("ProgressWorkflow")
def progress_workflow(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """Reports which step it is on."""
    ctx.set_custom_status({"step": 1, "doing": "validating"})
    yield ctx.schedule_activity("Validate", input)
    ctx.set_custom_status({"step": 2, "doing": "processing"})
    result = yield ctx.schedule_activity("Process", input)
    ctx.reset_custom_status()
    return result


@runtime.activity("Validate")
def validate(items: int) -> bool:
    """Holds on until the client has seen the first status."""
    status_seen.wait(30)
    return True


@runtime.activity("Process")
def process(items: int) -> dict[str, int]:
    """Does the work."""
    return {"processed": items}


def main() -> None:
    """Start an instance, read its first status, let it finish."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("progress-1", "ProgressWorkflow", {"items": 3})
            info = client.wait_for_status_change("progress-1", 0, timeout=10)
            print(info.custom_status, info.custom_status_version)
            status_seen.set()
            final = client.wait_for_orchestration("progress-1", timeout=10)
            print(final.status, final.output, final.custom_status)
    finally:
        status_seen.set()
        runtime.shutdown()


if __name__ == "__main__":
    main()
