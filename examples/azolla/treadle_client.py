"""treadle's way of writing the README's client: `AsyncClient` on a URL, `namespace=` for the domain.

A worker must be running on the same URL, e.g. `treadle worker --tasks examples.azolla.treadle_tasks`.
"""

from __future__ import annotations

import asyncio
import os

from treadle import AsyncClient, ExponentialBackoff, RetryPolicy

from .treadle_tasks import send_email


async def main() -> None:
    """Submit one email with a retry policy and print how it ended."""
    async with AsyncClient(os.environ.get("TREADLE_URL", "http://localhost:52710")) as client:
        handle = await (
            client.submit_task(send_email, {"to": "user@example.com", "subject": "Welcome!",
                                            "body": "Welcome to our platform!"})
            .retry_policy(RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=1.0)))
            .submit()
        )
        result = await handle.wait(timeout=30)
        print(f"✅ Email sent: {result.value}" if result.success else f"❌ Failed: {result.error}")


if __name__ == "__main__":
    asyncio.run(main())
