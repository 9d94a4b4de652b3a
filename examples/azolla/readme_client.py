"""Azolla README, "Submit Tasks (Client)" (imports changed; the endpoint may come from $TREADLE_URL).

A worker must be running on the same URL, e.g. `treadle worker --tasks examples.azolla.readme_tasks`.
"""

from __future__ import annotations

import asyncio
import os

from treadle.compat.azolla import Client
from treadle.compat.azolla.retry import ExponentialBackoff, RetryPolicy

from .readme_tasks import send_email


async def main():
    # Connect to Azolla orchestrator
    client = await Client.connect(os.environ.get("TREADLE_URL", "http://localhost:52710"))

    async with client:

        # Submit task with retry policy
        handle = await (
            client.submit_task(send_email, {
                "to": "user@example.com",
                "subject": "Welcome!",
                "body": "Welcome to our platform!"
            })
            .retry_policy(RetryPolicy(
                max_attempts=3,
                backoff=ExponentialBackoff(initial=1.0)
            ))
            .submit()
        )

        # Wait for result
        result = await handle.wait()
        if result.success:
            print(f"✅ Email sent: {result.value}")
        else:
            print(f"❌ Failed: {result.error}")

asyncio.run(main())
