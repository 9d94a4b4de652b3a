"""The Quick Start in treadle's own words: `python -m examples.duroxide.quickstart_treadle`.

Activities are ordinary tasks with typed arguments (a dict input is passed as keyword arguments),
and the client is a context manager; `wait_for_orchestration` takes seconds.
"""

from __future__ import annotations

from typing import Any

from treadle import Client, OrchestrationContext, Runtime

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)


@runtime.activity("greet")
def greet(name: str) -> str:
    """Says hello."""
    return f"Hello, {name}!"


@runtime.orchestration("GreetWorkflow")
def greet_workflow(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """Greets whoever the input names."""
    return (yield ctx.schedule_activity("greet", input))


def main() -> None:
    """Run one greeting and print it."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("greet-1", "GreetWorkflow", {"name": "World"})
            print(client.wait_for_orchestration("greet-1", timeout=10).output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
