"""The "Activities" example in treadle's own words: `python -m examples.duroxide.activities_treadle`.

An activity is an ordinary task: typed arguments, options such as retries and a timeout, and
`current_context()` for its id, attempt, progress and cancellation.
"""

from __future__ import annotations

import logging
from typing import Any

from treadle import Client, OrchestrationContext, Runtime, current_context

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)
logger = logging.getLogger(__name__)


@runtime.activity("SendEmail", retries=2, timeout=30)
def send_email(to: str, subject: str) -> dict[str, bool]:
    """Sends (pretends to send) one email."""
    logger.info("Sending email to %s (attempt %d)", to, current_context().attempt)
    return {"sent": True}


@runtime.orchestration("Welcome")
def welcome(ctx: OrchestrationContext, input: dict[str, Any]) -> Any:
    """Welcomes a new user."""
    return (yield ctx.schedule_activity("SendEmail", {"to": input["email"], "subject": "Welcome!"}))


def main() -> None:
    """Run the orchestration once and print what the activity returned."""
    logging.basicConfig(level=logging.WARNING)
    logger.setLevel(logging.INFO)
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("welcome-ada", "Welcome", {"email": "ada@example.com"})
            print(client.wait_for_orchestration("welcome-ada", timeout=10).output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
