"""Real worker and submitter processes sharing one PostgreSQL: scale, crashes, a database restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_tasks import read_ledger, slow_tag

from treadle import Client, TaskInfo, TaskStatus

from .conftest import SpawnWorker, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def client(pg_url: str) -> Iterator[Client]:
    with Client(pg_url) as c:
        yield c


def submitters(url: str, env: dict[str, str], total: int, processes: int, batch: int,
               first: int = 0) -> list[subprocess.Popen[str]]:
    share = total // processes
    return [subprocess.Popen([sys.executable, "-m", "submitter", url, str(first + k * share), str(share), str(batch)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in range(processes)]


def everything(client: Client) -> list[TaskInfo]:
    out: list[TaskInfo] = []
    while page := client.list(limit=10_000, offset=len(out)):
        out.extend(page)
    return out


def counts(client: Client) -> Counter[str]:
    return Counter(i.status.value for i in everything(client))


def test_twenty_thousand_tasks_four_workers_two_submitters_each_recorded_once(
        client: Client, pg_url: str, spawn_worker: SpawnWorker, ledger: Path, subprocess_env: dict[str, str]) -> None:
    # Given four workers already running and two processes submitting 10,000 tasks each at once
    workers = [spawn_worker(pg_url, "--concurrency", "32") for _ in range(4)]
    subs = submitters(pg_url, subprocess_env, 20_000, 2, batch=50)
    for proc in subs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert out.strip() == "10000"
    # When the queue drains
    wait_until(lambda: counts(client) == Counter(succeeded=20_000), 240, "20,000 successes")
    # Then every task succeeded on its first attempt and ran exactly once
    done = everything(client)
    assert {i.attempts for i in done} == {1}
    assert sorted(i.result for i in done) == list(range(20_000))
    executions = Counter(tag for tag, _, _ in read_ledger(ledger))
    assert len(executions) == 20_000 and set(executions.values()) == {1}
    assert len({pid for _, pid, _ in read_ledger(ledger)}) == 4, "all four workers took a share"
    assert all(w.poll() is None for w in workers)


def test_a_worker_killed_mid_run_loses_nothing(client: Client, pg_url: str, spawn_worker: SpawnWorker,
                                               ledger: Path) -> None:
    # Given 600 tasks of 20 ms on two workers with 2 s leases
    client.submit_many([client.submit_task(slow_tag, {"i": i, "seconds": 0.02}) for i in range(600)])
    victim = spawn_worker(pg_url, "--concurrency", "8", lease=2, heartbeat=0.5)
    survivor = spawn_worker(pg_url, "--concurrency", "8", lease=2, heartbeat=0.5)
    # When one is SIGKILLed mid-run
    wait_until(lambda: len(read_ledger(ledger)) > 100, 60, "the run to be under way")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    # Then the survivor finishes everything, the killed worker's tasks on a second attempt
    wait_until(lambda: counts(client) == Counter(succeeded=600), 120, "600 successes")
    infos = everything(client)
    retried = {i.result for i in infos if i.attempts == 2}
    assert retried and {i.attempts for i in infos} <= {1, 2}
    assert all(e.error_type == "LeaseExpired" for i in infos for e in i.errors)
    executions = Counter(int(tag) for tag, _, _ in read_ledger(ledger))
    assert set(executions) == set(range(600))
    assert {t for t, n in executions.items() if n > 1} <= retried, "only re-run tasks ran twice"
    assert survivor.poll() is None


def _pg_ctl(action: str) -> None:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not shutil.which("pg_ctlcluster") or not versions:
        message = "pg_ctlcluster is not available to restart PostgreSQL"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action],
                   check=True, capture_output=True, timeout=60)


def test_postgres_restart_mid_run_loses_nothing(client: Client, pg_url: str, spawn_worker: SpawnWorker,
                                                ledger: Path, subprocess_env: dict[str, str]) -> None:
    # Given two workers draining slow tasks while a submitter adds more
    # (1,000 tasks of 50 ms over 16 slots take about 3 s: the restart lands in the middle)
    client.submit_many([client.submit_task(slow_tag, {"i": i, "seconds": 0.05}) for i in range(1000)])
    workers = [spawn_worker(pg_url, "--concurrency", "8", lease=10, heartbeat=2) for _ in range(2)]
    wait_until(lambda: len(read_ledger(ledger)) > 100, 60, "the run to be under way")
    sub = submitters(pg_url, subprocess_env, 3000, 1, batch=1, first=1000)[0]
    # (the submitter must be connected, and submitting one task at a time, when the server goes)
    wait_until(lambda: len(client.list(limit=1100)) > 1010, 60, "the submitter to be under way")
    # When PostgreSQL stops for a few seconds and starts again
    _pg_ctl("stop")
    assert len([t for t, _, _ in read_ledger(ledger) if int(t) < 1000]) < 1000, "the restart must land mid-run"
    try:
        time.sleep(3)       # the outage itself: nothing to wait for but time
    finally:
        _pg_ctl("start")
    out, err = sub.communicate(timeout=180)
    assert sub.returncode == 0 and out.strip() == "3000", err
    # Then the workers carry on by themselves and every task is recorded exactly once
    wait_until(lambda: counts(client) == Counter(succeeded=4000), 180, "4,000 successes")
    assert all(w.poll() is None for w in workers), "workers survived the restart"
    infos = everything(client)
    assert sorted(i.result for i in infos if i.result >= 1000) == list(range(1000, 4000))
    executions = Counter(tag for tag, _, _ in read_ledger(ledger))
    assert len(executions) == 4000
    twice = {tag for tag, n in executions.items() if n > 1}
    assert all(i.attempts > 1 for i in infos if str(i.result) in twice), "a task ran twice only when re-run"
    assert not [i for i in infos if i.status is not TaskStatus.SUCCEEDED]
