"""Change hints between processes sharing one PostgreSQL: one channel per kind, heard only when waited for.

Two storages on one URL stand for two processes (each has its own listener connection and skips
only its own notifications).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from treadle.core.ids import new_id
from treadle.core.records import NewTask, Succeeded
from treadle.core.routing import Pattern
from treadle.storage.changes import TASKS, WORK
from treadle.storage.postgres import PostgresStorage
from treadle.storage.postgres_listen import channel_name


async def settle(storage: PostgresStorage, kind: str) -> int:
    """Start listening to `kind` and wait until no hint arrives for a while (listening starts with one)."""
    for _ in range(50):
        token = storage.change_token(kind)
        if await storage.wait_for_change(token, 0.2, kind) == token:
            return token
    raise AssertionError("change hints never stopped")


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    waiter, writer = PostgresStorage(pg_url), PostgresStorage(pg_url)
    await waiter.open()
    await writer.open()
    yield waiter, writer
    await waiter.close()
    await writer.close()


async def test_a_result_waiter_hears_finished_tasks_and_not_new_work(
        pair: tuple[PostgresStorage, PostgresStorage]) -> None:
    waiter, writer = pair
    token = await settle(waiter, TASKS)
    # When another process submits work, a process waiting for results is not woken
    await writer.enqueue([NewTask(id=new_id(), name="hint.task")])
    assert await waiter.wait_for_change(token, 0.3, TASKS) == token
    # But when that process finishes it, it is
    [claimed] = (await writer.claim(namespace="default", worker_id="w", patterns=[Pattern("*")], limit=5,
                                    lease_seconds=30)).tasks
    pending = asyncio.create_task(waiter.wait_for_change(token, 5.0, TASKS))
    assert await writer.finish([Succeeded(lease=claimed.lease, result_json="1")]) == [True]
    assert await asyncio.wait_for(pending, 3.0) > token


async def test_a_worker_waiting_for_work_hears_new_work(pair: tuple[PostgresStorage, PostgresStorage]) -> None:
    waiter, writer = pair
    token = await settle(waiter, WORK)
    pending = asyncio.create_task(waiter.wait_for_change(token, 5.0, WORK))
    await asyncio.sleep(0.05)
    assert not pending.done()
    await writer.enqueue([NewTask(id=new_id(), name="hint.task")])
    assert await asyncio.wait_for(pending, 3.0) > token


def drop(base_url: str, schema: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_schema_with_the_longest_name_still_gets_hints(pg_url: str) -> None:
    schema = "s" * 63             # PostgreSQL's longest identifier: "treadle_<schema>_w" would be refused
    assert all(len(channel_name(schema, kind)) <= 63 for kind in (WORK, TASKS))
    assert channel_name(schema, WORK) != channel_name(schema[:-1], WORK)
    base = pg_url.split("?")[0]
    drop(base, schema)
    waiter, writer = PostgresStorage(f"{base}?schema={schema}"), PostgresStorage(f"{base}?schema={schema}")
    try:
        await waiter.open()
        token = await settle(waiter, WORK)
        pending = asyncio.create_task(waiter.wait_for_change(token, 5.0, WORK))
        await writer.enqueue([NewTask(id=new_id(), name="hint.task")])
        assert await asyncio.wait_for(pending, 3.0) > token
    finally:
        await waiter.close()
        await writer.close()
        drop(base, schema)
