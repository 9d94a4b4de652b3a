"""treadle's way of testing tasks: call them directly (sync or async), or run them through a real worker
on an in-memory store (`python -m pytest examples/azolla/treadle_testing.py`)."""

from __future__ import annotations

import asyncio

from treadle import AsyncClient, Worker
from treadle.storage import MemoryStorage

from .treadle_tasks import greet_user, send_email


async def test_send_email_task() -> None:
    result = await send_email(to="test@example.com", subject="Test", body="Hello")
    assert result["sent_to"] == "test@example.com"


async def test_greet_user_through_a_worker() -> None:
    store = MemoryStorage()
    worker = Worker(store, tasks=[greet_user])
    running = asyncio.create_task(worker.run())
    async with AsyncClient(store) as client:
        result = await (await client.submit_task(greet_user, ["Alice", "fr"]).submit()).wait(timeout=10)
    worker.stop()
    await running
    assert result.value == "Bonjour, Alice!"
