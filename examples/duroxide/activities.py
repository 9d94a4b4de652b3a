"""duroxide's "Activities" example, run end to end: `python -m examples.duroxide.activities`.

The activity is the README's, as written; below it, an orchestration that calls it and a client
that runs that orchestration. `ctx.trace_info` logs through the `treadle.compat.duroxide` logger.
"""

from __future__ import annotations

import logging

from treadle.compat.duroxide import Client, Runtime, SqliteProvider

from .env import provider_from_env

provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)


@runtime.register_activity("SendEmail")
def send_email(ctx, input):
    ctx.trace_info(f"Sending email to {input['to']}")
    # ... actual email sending ...
    return {"sent": True}


# ---------------------------------------------------------------- what the README leaves out

@runtime.register_orchestration("Welcome")
def welcome(ctx, input):
    return (yield ctx.schedule_activity("SendEmail", {"to": input["email"], "subject": "Welcome!"}))


def main():
    """Run the orchestration once and print what the activity returned."""
    traces = logging.StreamHandler()
    traces.setFormatter(logging.Formatter("%(levelname)s %(activity)s: %(message)s"))
    logging.getLogger("treadle.compat.duroxide").addHandler(traces)
    logging.getLogger("treadle.compat.duroxide").setLevel(logging.INFO)
    runtime.start()
    client = Client(provider)
    try:
        client.start_orchestration("welcome-ada", "Welcome", {"email": "ada@example.com"})
        print(client.wait_for_orchestration("welcome-ada", 10_000).output)
    finally:
        client.close()
        runtime.shutdown()


if __name__ == "__main__":
    main()
