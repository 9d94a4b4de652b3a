"""treadle's workers are long-lived and take work by name instead of one process per task: register the
tasks and run. This script runs one on $TREADLE_URL until SIGTERM or Ctrl-C."""

from __future__ import annotations

import os

from treadle import Worker

from .treadle_tasks import SendEmailTask, greet_user


def main() -> None:
    """Serve both tasks with up to 8 at once."""
    worker = Worker(os.environ.get("TREADLE_URL", "sqlite:///treadle.db"), tasks=[greet_user, SendEmailTask],
                    concurrency=8)
    worker.run_sync()


if __name__ == "__main__":
    main()
