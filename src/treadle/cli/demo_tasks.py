"""The tasks `treadle demo` runs: each shows one behaviour (progress, retries with backoff,
a non-retryable error, exhausted attempts, cooperative cancellation, argument validation)."""

from __future__ import annotations

import asyncio
import time

from ..core.retry import ExponentialBackoff, FixedBackoff, RetryPolicy
from ..core.task import task
from ..engine.context import current_context
from ..errors import TaskError


@task(name="demo.images.resize")
def resize_image(image: str, steps: int = 5) -> dict[str, object]:
    """Reports progress after each step."""
    ctx = current_context()
    for step in range(1, steps + 1):
        time.sleep(0.25)
        ctx.progress(100 * step / steps, f"{image}: step {step}/{steps}")
    return {"image": image, "size": "800x600"}


@task(name="demo.storage.upload",
      retry=RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=0.5, multiplier=2, jitter=0.2)))
def flaky_upload(file: str) -> str:
    """Fails twice with a connection error, then succeeds: retried with exponential backoff."""
    if current_context().attempt < 3:
        raise ConnectionError(f"storage unreachable while uploading {file}")
    return f"s3://bucket/{file}"


@task(name="demo.billing.charge")
async def charge_card(customer: str, amount: int) -> dict[str, object]:
    """Declines large amounts with a non-retryable error (fails at once)."""
    await asyncio.sleep(0.1)
    if amount > 1000:
        raise TaskError(f"card of {customer} declined for {amount}", error_code="CARD_DECLINED", retryable=False)
    return {"customer": customer, "charged": amount}


@task(name="demo.reports.nightly", retry=RetryPolicy(max_attempts=3, backoff=FixedBackoff(0.3)))
def broken_report() -> None:
    """Always fails: ends `failed` after its last attempt, with every attempt's error kept."""
    raise RuntimeError("the reporting database is gone")


@task(name="demo.reports.export")
def long_export(pages: int) -> int:
    """Long-running; checks `is_cancelled()` between pages, so it stops when cancelled."""
    ctx = current_context()
    for page in range(pages):
        if ctx.is_cancelled():
            raise TaskError("export stopped on request", retryable=False)
        ctx.progress(100 * page / pages, f"page {page}/{pages}")
        time.sleep(0.1)
    return pages


@task(name="demo.math.add")
def add(a: int, b: int) -> int:
    """A quick one."""
    return a + b
