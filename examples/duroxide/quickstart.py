"""duroxide's Quick Start, as its README has it: `python -m examples.duroxide.quickstart`."""

from __future__ import annotations

from treadle.compat.duroxide import Client, Runtime, SqliteProvider

from .env import provider_from_env

# Create provider and runtime
provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)

# Register an activity
@runtime.register_activity("greet")
def greet(ctx, input):
    return f"Hello, {input['name']}!"

# Register an orchestration (generator function)
@runtime.register_orchestration("GreetWorkflow")
def greet_workflow(ctx, input):
    result = yield ctx.schedule_activity("greet", input)
    return result

# Start runtime and run orchestration
import threading  # noqa: E402, F401, I001 - as in the README
runtime.start()

client = Client(provider)
client.start_orchestration("greet-1", "GreetWorkflow", {"name": "World"})
status = client.wait_for_orchestration("greet-1", 10000)
print(status.output)  # "Hello, World!"

runtime.shutdown()
