"""treadle's way of running a task once in this process: a task is still a plain function, so call it.

(To run submitted tasks, start a worker: `treadle worker --tasks examples.azolla.treadle_tasks`.)
"""

from __future__ import annotations

import asyncio

from .treadle_tasks import send_email


async def main() -> None:
    """Call the task directly: no storage, no worker."""
    print(await send_email("user@example.com", "Welcome!", "Welcome to our platform!"))


if __name__ == "__main__":
    asyncio.run(main())
