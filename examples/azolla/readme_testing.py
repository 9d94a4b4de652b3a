"""Azolla README, "Testing Your Tasks": a task is a coroutine function you can call in a test
(`python -m pytest examples/azolla/readme_testing.py`)."""

from __future__ import annotations

import pytest

from .readme_tasks import send_email


@pytest.mark.asyncio
async def test_send_email_task():
    result = await send_email(
        to="test@example.com",
        subject="Test",
        body="Hello",
    )
    assert result["sent_to"] == "test@example.com"
