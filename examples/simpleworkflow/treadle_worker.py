"""The README's executors written as plain treadle tasks, for comparison with the facade examples.

Run `python -m examples.simpleworkflow.treadle_worker`, or the CLI:
`treadle worker --url "$DATABASE_URL" --tasks examples.simpleworkflow.treadle_worker`.

What changes: an executor becomes a `@task` named by the workflow type, whose parameters are
the payload's keys (checked before the task runs); `run.heartbeat`/`run.is_cancelled` become
`current_context()` calls (and the worker renews leases by itself while a task runs); the
README's retry schedule is the tasks' `RetryPolicy`; the poller is a `Worker`. treadle names
the schema with `?schema=` in the URL (default `treadle`).
"""

from __future__ import annotations

import os
import time

from treadle import ExponentialBackoff, RetryPolicy, TaskError, Worker, WorkerSettings, current_context, task

# Attempt 2 after ~1 minute, attempt 3 after ~4 minutes (each +0-10 %), then failed.
README_RETRIES = RetryPolicy(max_attempts=3,
                             backoff=ExponentialBackoff(initial=63, multiplier=4, max_delay=264, jitter=1 / 21))


@task(name="notify.email.v1", retry=README_RETRIES)
def send_email(to: str, subject: str, body: str) -> dict[str, object]:
    print(f"Sending email to {to}: {subject}")
    return {"sent": True, "to": to, "method": "email"}


@task(name="notify.sms.v1", retry=README_RETRIES)
def send_sms(phone: str, message: str) -> dict[str, object]:
    print(f"Sending SMS to {phone}: {message}")
    return {"sent": True, "to": phone, "method": "sms"}


@task(name="media.video.v1", retry=README_RETRIES)
def process_video(video_id: str) -> dict[str, object]:
    ctx = current_context()
    for i in range(10):
        print(f"Processing video {video_id}... step {i + 1}/10")
        time.sleep(5)  # the worker keeps renewing the lease meanwhile
        if ctx.is_cancelled():
            print("Workflow cancelled, stopping...")
            raise TaskError("Workflow cancelled by user", retryable=False)
    return {"video_id": video_id, "status": "processed"}


def main() -> None:
    url = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost/workflow?schema=workflow")
    worker = Worker(url, tasks=[send_email, send_sms, process_video], patterns=["notify.%", "media.%"],
                    worker_id="notification-worker", settings=WorkerSettings(lease_seconds=30, poll_seconds=2))
    print("Starting notification worker...")
    worker.run_sync()


if __name__ == "__main__":
    main()
