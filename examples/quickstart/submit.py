"""The README's quickstart client: `python -m examples.quickstart.submit` (with a worker running)."""

from __future__ import annotations

import os

from treadle import Client

from .tasks import resize, send_email


def main() -> None:
    """Submit three tasks and print how each ended."""
    with Client(os.environ.get("TREADLE_URL", "sqlite:///treadle.db")) as client:
        handles = [
            client.submit_task(send_email, {"to": "ada@example.com", "subject": "Welcome!"}).submit(),
            client.submit_task(send_email, {"to": "not-an-address", "subject": "Oops"}).submit(),
            client.submit_task(resize, {"path": "cat.png", "sizes": [64, 128, 256]}).priority(5).submit(),
        ]
        for handle in handles:
            result = handle.wait(timeout=30)
            print(result.value if result.success else result.error)


if __name__ == "__main__":
    main()
