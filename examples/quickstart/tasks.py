"""The README's quickstart tasks: `treadle worker --tasks examples.quickstart.tasks`."""

from __future__ import annotations

from treadle import ExponentialBackoff, RetryPolicy, TaskError, current_context, task


@task(name="notify.email.v1", retry=RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, jitter=True)))
async def send_email(to: str, subject: str, body: str = "") -> dict[str, str]:
    """Pretends to send an email; a malformed address fails at once."""
    if "@" not in to:
        raise TaskError(f"bad address {to!r}", error_code="INVALID_EMAIL", retryable=False)
    return {"sent_to": to, "subject": subject}


@task(name="media.resize", timeout=600)
def resize(path: str, sizes: list[int]) -> list[str]:
    """Reports progress per size and stops early when cancelled."""
    ctx = current_context()
    out = []
    for i, size in enumerate(sizes, 1):
        if ctx.is_cancelled():
            raise TaskError("stopped on request", retryable=False)
        out.append(f"{path}@{size}")
        ctx.progress(100 * i / len(sizes), f"{size}px done")
    return out
