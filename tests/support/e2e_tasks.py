"""Tasks that the integration tests run in real worker processes.

Side effects go to a ledger: one file per process in $TREADLE_TEST_LEDGER, one line per
execution, appended with a single write so lines from concurrent processes never interleave.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from treadle import FixedBackoff, RetryPolicy, TaskError, current_context, task


def record(tag: str) -> None:
    """Append `tag pid attempt` to this process's ledger file."""
    ledger = os.environ.get("TREADLE_TEST_LEDGER")
    if not ledger:
        return
    ctx = current_context()
    line = f"{tag} {os.getpid()} {ctx.attempt}\n".encode()
    fd = os.open(os.path.join(ledger, f"ledger.{os.getpid()}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_ledger(ledger: Path) -> list[tuple[str, int, int]]:
    """Every recorded execution as (tag, pid, attempt)."""
    rows = []
    for path in ledger.glob("ledger.*"):
        for line in path.read_text().splitlines():
            tag, pid, attempt = line.split()
            rows.append((tag, int(pid), int(attempt)))
    return rows


@task(name="e2e.record")
def record_task(i: int) -> int:
    record(str(i))
    return i


@task(name="e2e.async_record")
async def async_record(i: int) -> int:
    record(str(i))
    return i


@task(name="e2e.slow_record", retry=RetryPolicy(max_attempts=3, backoff=FixedBackoff(0)))
def slow_record(tag: str, seconds: float) -> str:
    """Records when it starts and when it finishes, sleeping in between."""
    record(f"{tag}:start")
    time.sleep(seconds)
    record(f"{tag}:end")
    return tag


@task(name="e2e.kill_my_worker", retry=RetryPolicy(max_attempts=2, backoff=FixedBackoff(0)))
def kill_my_worker() -> None:
    """Kills the worker process running it, every time."""
    record("kill")
    os.kill(os.getpid(), signal.SIGKILL)


@task(name="e2e.until_cancelled")
def until_cancelled(limit_seconds: float = 30.0) -> str:
    """Reports progress, then waits cooperatively for cancellation."""
    ctx = current_context()
    ctx.progress(50, "half way", {"step": 1})
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if ctx.is_cancelled():
            record("saw-cancel")
            raise TaskError("stopped on request", retryable=False)
        time.sleep(0.02)
    return "not cancelled"


@task(name="e2e.async_until_cancelled")
async def async_until_cancelled() -> str:
    """Sleeps; cancellation interrupts the await."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        record("interrupted")
        raise
    return "not cancelled"


@task(name="e2e.whoami")
def whoami() -> int:
    """The pid of the process that ran the task."""
    return os.getpid()


@task(name="e2e.slow_tag", retry=RetryPolicy(max_attempts=5, backoff=FixedBackoff(0)))
def slow_tag(i: int, seconds: float = 0.005) -> int:
    """Sleeps a little, then records: long enough for a kill or a restart to land mid-run."""
    time.sleep(seconds)
    record(str(i))
    return i
