"""Azolla README, "Define Tasks": the decorator and the class approach (only the imports changed).

`greet_user` is the task the README's "Worker Invocation" example runs without showing it.
"""

from __future__ import annotations

from pydantic import BaseModel

from treadle.compat.azolla import Task, azolla_task


@azolla_task
async def send_email(to: str, subject: str, body: str) -> dict:
    """Send an email notification."""
    # Your email sending logic here
    return {
        "message_id": "msg_123",
        "sent_to": to,
        "status": "delivered"
    }


class SendEmailTask(Task):
    class Args(BaseModel):
        to: str
        subject: str
        body: str

    async def execute(self, args: Args) -> dict:
        # Your email sending logic here
        return {
            "message_id": "msg_123",
            "sent_to": args.to,
            "status": "delivered"
        }


@azolla_task
async def greet_user(name: str, language: str = "en") -> str:
    """Greet someone in their language."""
    greeting = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}.get(language, "Hello")
    return f"{greeting}, {name}!"
