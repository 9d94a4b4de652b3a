"""The SQLite group-commit runner: who wakes first after a commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from treadle.storage.sqlite_runner import SqliteRunner


def test_a_writer_carries_on_before_the_waiters_its_commit_wakes(tmp_path: Path) -> None:
    # A writer's next write (the next step of a workflow, say) must join the group commit that
    # the woken waiters' writes also join, instead of waiting behind them for one more commit.
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        change: asyncio.Future[None] = loop.create_future()

        def on_commit() -> None:
            if not change.done():
                change.set_result(None)

        runner = SqliteRunner(str(tmp_path / "t.db"), synchronous="NORMAL", busy_timeout_seconds=1.0,
                              on_commit=on_commit)
        try:
            await runner.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"), notify=False)

            async def waiter() -> None:
                await change
                order.append("waiter")

            async def writer() -> None:
                await runner.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
                order.append("writer")

            await asyncio.gather(waiter(), writer())
            assert await runner.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
        finally:
            runner.close()

    asyncio.run(main())
    assert order == ["writer", "waiter"]


def test_a_commit_that_changed_nothing_wakes_no_waiter(tmp_path: Path) -> None:
    commits: list[int] = []

    async def main() -> None:
        runner = SqliteRunner(str(tmp_path / "t.db"), synchronous="NORMAL", busy_timeout_seconds=1.0,
                              on_commit=lambda: commits.append(1))
        try:
            await runner.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"), notify=False)
            await runner.write(lambda conn: conn.execute("UPDATE t SET x = 2 WHERE x = 1"))
            assert commits == []
            await runner.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
            assert commits == [1]
        finally:
            runner.close()

    asyncio.run(main())
