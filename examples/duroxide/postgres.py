"""duroxide's "PostgreSQL Provider" example: `python -m examples.duroxide.postgres`.

The README's connection strings are placeholders: set `$DUROXIDE_PG_URL` to a real database
(and `$DUROXIDE_PG_SCHEMA` to choose the schema, default the README's `duroxide_python`).
Below the README's lines, a greeting runs through the provider to show it works.
"""

from __future__ import annotations

import os

from treadle.compat.duroxide import Client, PostgresProvider, Runtime

DATABASE_URL = os.environ.get("DUROXIDE_PG_URL", "postgresql://user:pass@localhost:5432/mydb")
SCHEMA = os.environ.get("DUROXIDE_PG_SCHEMA", "duroxide_python")

provider = PostgresProvider.connect(DATABASE_URL)
# or with custom schema:
provider = PostgresProvider.connect_with_schema(DATABASE_URL, SCHEMA)

runtime = Runtime(provider)
client = Client(provider)


# ---------------------------------------------------------------- what the README leaves out

@runtime.register_activity("greet")
def greet(ctx, input):
    return f"Hello, {input['name']}!"


@runtime.register_orchestration("GreetWorkflow")
def greet_workflow(ctx, input):
    return (yield ctx.schedule_activity("greet", input))


def main():
    """Greet once through PostgreSQL and print the result."""
    runtime.start()
    try:
        client.start_orchestration("pg-greet-1", "GreetWorkflow", {"name": "PostgreSQL"})
        status = client.wait_for_orchestration("pg-greet-1", 10_000)
        print(status.status, status.output)
    finally:
        client.close()
        runtime.shutdown()


if __name__ == "__main__":
    main()
