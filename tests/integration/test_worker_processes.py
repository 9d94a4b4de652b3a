"""Real worker processes sharing one SQLite file: exactly-once recording, crash recovery, signals."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_tasks import async_record, kill_my_worker, read_ledger, record_task, slow_record, until_cancelled

from treadle import Client, TaskStatus

from .conftest import SpawnWorker, wait_until

pytestmark = pytest.mark.slow

StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(db_url: str, spawn_worker: SpawnWorker) -> StartWorker:
    """Workers on this test's SQLite file."""
    return lambda *extra, **kw: spawn_worker(db_url, *extra, **kw)


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    with Client(db_url) as c:
        yield c


def test_two_thousand_tasks_over_two_processes_are_each_recorded_once(
        client: Client, start_worker: StartWorker, ledger: Path) -> None:
    # Given 2,000 tasks (sync and async) submitted before any worker runs
    handles = client.submit_many([(record_task if i % 2 else async_record, [i]) for i in range(2000)])
    # When two worker processes drain them
    workers = [start_worker("--concurrency", "16") for _ in range(2)]
    wait_until(lambda: not client.list(status=["pending", "running"], limit=1), 120, "the drain")
    # Then every task succeeded once, on its first attempt, and ran exactly once
    done = client.list(status="succeeded", limit=10_000)
    assert len(done) == 2000 and {i.attempts for i in done} == {1}
    assert sorted(i.result for i in done) == list(range(2000))
    executions = Counter(tag for tag, _, _ in read_ledger(ledger))
    assert len(executions) == 2000 and set(executions.values()) == {1}
    assert len({pid for _, pid, _ in read_ledger(ledger)}) == 2, "both workers took a share"
    assert {h.id for h in handles} == {i.id for i in done}
    assert all(w.poll() is None for w in workers)


def test_killed_worker_loses_nothing_its_task_is_finished_by_another(
        client: Client, start_worker: StartWorker, ledger: Path) -> None:
    # Given a worker running a slow task under a 2 s lease
    first = start_worker(lease=2, heartbeat=0.5)
    handle = client.submit_task(slow_record, {"tag": "job", "seconds": 1.5}).submit()
    wait_until(lambda: ("job:start", first.pid, 1) in read_ledger(ledger), what="the task to start")
    # When it is killed mid-task and another worker is running
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = time.monotonic()
    second = start_worker(lease=2, heartbeat=0.5)
    result = handle.wait(30)
    # Then the second worker completes it on attempt 2, after the lease ran out
    assert result.success and result.value == "job" and result.attempts == 2
    assert [e.error_type for e in result.errors] == ["LeaseExpired"]
    rows = read_ledger(ledger)
    assert ("job:end", second.pid, 2) in rows and ("job:end", first.pid, 1) not in rows
    assert time.monotonic() - killed_at < 15


def test_a_task_that_kills_its_worker_fails_after_its_last_attempt(
        client: Client, start_worker: StartWorker, ledger: Path) -> None:
    # Given a task that SIGKILLs whichever worker runs it, with max_attempts=2
    handle = client.submit_task(kill_my_worker).submit()
    # When a supervisor keeps restarting the worker
    deadline = time.monotonic() + 60
    while not client.get(handle.id).status.is_terminal:
        assert time.monotonic() < deadline, "the poison task never ended"
        worker = start_worker(lease=1, heartbeat=0.3)
        while worker.poll() is None and not client.get(handle.id).status.is_terminal:
            time.sleep(0.05)
        worker.kill()
        worker.wait(10)
    # Then it ends failed after exactly two attempts, both lost leases
    info = client.get(handle.id)
    assert info.status is TaskStatus.FAILED and info.attempts == 2
    assert [e.error_type for e in info.errors] == ["LeaseExpired", "LeaseExpired"]
    assert len([r for r in read_ledger(ledger) if r[0] == "kill"]) == 2


def test_sigterm_lets_the_running_task_finish_then_exits(client: Client, start_worker: StartWorker,
                                                         ledger: Path) -> None:
    worker = start_worker()
    handle = client.submit_task(slow_record, {"tag": "graceful", "seconds": 0.8}).submit()
    wait_until(lambda: any(t == "graceful:start" for t, _, _ in read_ledger(ledger)), what="the task to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    info = client.get(handle.id)
    assert info.status is TaskStatus.SUCCEEDED and info.attempts == 1


def test_sigterm_past_the_grace_period_releases_the_task(client: Client, start_worker: StartWorker,
                                                         ledger: Path) -> None:
    worker = start_worker("--shutdown-grace-seconds", "0.3")
    handle = client.submit_task(slow_record, {"tag": "long", "seconds": 30}).submit()
    wait_until(lambda: any(t == "long:start" for t, _, _ in read_ledger(ledger)), what="the task to start")
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert time.monotonic() - started < 10
    info = client.get(handle.id)
    assert info.status is TaskStatus.PENDING and info.attempts == 0


def test_cancel_reaches_a_task_running_in_another_process(client: Client, start_worker: StartWorker,
                                                          ledger: Path) -> None:
    start_worker()
    handle = client.submit_task(until_cancelled).submit()
    wait_until(lambda: client.get(handle.id).progress is not None, what="progress")
    progress = client.get(handle.id).progress
    assert progress is not None and (progress.percent, progress.message) == (50, "half way")
    assert client.get(handle.id).status is TaskStatus.RUNNING
    client.cancel(handle.id)
    result = handle.wait(20)
    assert result.status is TaskStatus.CANCELLED
    assert [t for t, _, _ in read_ledger(ledger)] == ["saw-cancel"]


def test_process_mode_from_the_command_line(client: Client, start_worker: StartWorker) -> None:
    worker = start_worker("--mode", "process", "--concurrency", "2")
    handles = [client.submit_task(record_task, [i]).submit() for i in range(3)]
    assert [h.wait(60).value for h in handles] == [0, 1, 2]
    assert worker.poll() is None
