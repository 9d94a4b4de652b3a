"""The "PostgreSQL Provider" example in treadle's own words: `python -m examples.duroxide.postgres_treadle`.

A backend is a URL; `?schema=` puts the tables in a schema of their own (default `treadle`).
Set `$TREADLE_URL` to a real database.
"""

from __future__ import annotations

import os
from typing import Any

from treadle import Client, OrchestrationContext, Runtime

URL = os.environ.get("TREADLE_URL", "postgresql://user:pass@localhost:5432/mydb?schema=duroxide_python")
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
    """Greet once through PostgreSQL and print the result."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("pg-greet-1", "GreetWorkflow", {"name": "PostgreSQL"})
            info = client.wait_for_orchestration("pg-greet-1", timeout=10)
            print(info.status, info.output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
