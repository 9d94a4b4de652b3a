"""Tasks for the local-run tests, at module level so spawned processes and Dask workers can import them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from treadle import ProcessRunner, RetryPolicy, TaskError, current_context, task
from treadle.compat.woflo import task as woflo_task
from treadle.core.retry import FixedBackoff

DEADLINE_SECONDS = 30.0


def wait_for_file(path: Path, deadline: float = DEADLINE_SECONDS) -> None:
    """Block until `path` exists (the test's go signal), failing after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not path.exists():
        if time.monotonic() > end:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


def double(n: int) -> int:
    """Succeeds at once."""
    current_context().progress(100, "doubled", {"n": n})
    return n * 2


async def double_async(n: int) -> int:
    """Succeeds at once, as a coroutine."""
    await asyncio.sleep(0)
    current_context().progress(100, "doubled", {"n": n})
    return n * 2


def flaky(marker: str) -> str:
    """Fails on its first two attempts, records each attempt in `marker`'s folder."""
    ctx = current_context()
    Path(marker).with_name(f"attempt-{ctx.attempt}").write_text(str(os.getpid()))
    if ctx.attempt < 3:
        raise ConnectionError(f"flaky attempt {ctx.attempt}")
    return f"ok after {ctx.attempt}"


def refuse(code: str) -> None:
    """Always fails with a TaskError carrying `code`."""
    raise TaskError("refused", error_code=code)


def gated(started: str, gate: str) -> int:
    """Announce the start, then wait for the test's gate file: proves runs overlap."""
    Path(started).write_text(str(os.getpid()))
    wait_for_file(Path(gate))
    return os.getpid()


def until_cancelled(started: str) -> str:
    """Run until asked to stop (cooperatively, as threads must)."""
    Path(started).write_text("started")
    ctx = current_context()
    end = time.monotonic() + DEADLINE_SECONDS
    while not ctx.is_cancelled():
        if time.monotonic() > end:
            raise TimeoutError("never cancelled")
        time.sleep(0.01)
    return "saw the cancel"


async def until_cancelled_async(started: str) -> str:
    """Run until cancelled, as a coroutine."""
    Path(started).write_text("started")
    await asyncio.sleep(DEADLINE_SECONDS)
    return "never cancelled"


def unpicklable() -> object:
    """Returns what cannot cross a process boundary."""
    return lambda: None


RUNNERS = ("process", "thread", "asyncio", "sequential")


def variants(fn: object, **options: object) -> dict[str, object]:
    """The same function as a task on each runner."""
    name = getattr(fn, "__name__", "fn")
    return {r: task(name=f"{name}.{r}", runner=r, **options)(fn) for r in RUNNERS}  # type: ignore[call-overload]


DOUBLE = variants(double, retries=0)
DOUBLE_ASYNC = variants(double_async, retries=0)
FLAKY = variants(flaky, retries=2, retry_sleep_time=0)
REFUSE = variants(refuse, retry=RetryPolicy(max_attempts=5, backoff=FixedBackoff(0), stop_on_codes=["NOPE"]))
SLOW = variants(gated, retries=0, timeout=0.2)
GATED = variants(gated, retries=0)
UNTIL_CANCELLED = variants(until_cancelled, retries=0)


@task(runner=ProcessRunner("spawn"), retries=2, retry_sleep_time=0)
def flaky_spawned(marker: str) -> str:
    """`flaky`, in a spawned interpreter that re-imports this module."""
    return flaky(marker)


@task(runner="process", retries=0)
def killed_by_signal() -> None:
    """Ends its own process without a word."""
    os.kill(os.getpid(), 9)


@woflo_task(retries=2, retry_sleep_time=0)
def woflo_flaky(marker: str) -> str:
    """`flaky` as a woflo task, importable by a spawned process."""
    return flaky(marker)


@task(retries=0)
def big_result() -> str:
    """More than a pipe's buffer: the child blocks writing it until the caller reads."""
    return "x" * 5_000_000
