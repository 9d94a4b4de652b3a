"""treadle's way of writing the README's tasks: `@task` on a sync or async function (a dotted name and a
retry policy if you like), or a `Task` subclass with a Pydantic `Args`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from treadle import ExponentialBackoff, RetryPolicy, Task, task


@task(name="notify.send_email", retry=RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=1.0)))
async def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
    """Send an email notification."""
    return {"message_id": "msg_123", "sent_to": to, "status": "delivered"}


class SendEmailTask(Task):
    """The same task as a class; its name is the class name unless `name` is set."""

    name = "notify.send_email_task"

    class Args(BaseModel):
        """What the task takes, validated at submit time and again by the worker."""

        to: str
        subject: str
        body: str

    async def execute(self, args: Args) -> dict[str, Any]:
        """Send it."""
        return {"message_id": "msg_123", "sent_to": args.to, "status": "delivered"}


@task(name="greet.user")
def greet_user(name: str, language: str = "en") -> str:
    """Greet someone in their language (a sync task runs in the worker's thread pool)."""
    greeting = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}.get(language, "Hello")
    return f"{greeting}, {name}!"
