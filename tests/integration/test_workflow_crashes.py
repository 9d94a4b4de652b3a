"""Runtimes in real processes: kill -9 in the middle of a workflow, timers across restarts, several runtimes."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_tasks import read_ledger

from treadle import Client

from .conftest import SpawnWorker, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, db_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return db_url


@pytest.fixture
def client(url: str) -> Iterator[Client]:
    with Client(url) as c:
        yield c


def runtime(spawn_worker: SpawnWorker, url: str) -> subprocess.Popen[bytes]:
    return spawn_worker(url, "--tasks", "wf_tasks", "--concurrency", "8", lease=2, heartbeat=0.5)


def ends(ledger: Path, prefix: str) -> Counter[str]:
    return Counter(tag[:-4] for tag, _, _ in read_ledger(ledger) if tag.startswith(prefix) and tag.endswith(":end"))


def test_kill_9_mid_workflow_resumes_without_rerunning_completed_steps(
        client: Client, url: str, spawn_worker: SpawnWorker, ledger: Path) -> None:
    # Given a 20-step workflow under way in a runtime process
    first = runtime(spawn_worker, url)
    client.start_orchestration("crash-1", "crash.steps", {"count": 20, "seconds": 0.1})
    wait_until(lambda: sum(ends(ledger, "crash-1/").values()) >= 8, 60, "eight steps")
    # When the process is killed with SIGKILL and a new one starts
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    recorded = {t.kwargs["tag"] for t in client.list(name="crash.step", status="succeeded", limit=100)}
    assert 5 <= len(recorded) < 20, "the kill must land mid-run"
    runtime(spawn_worker, url)
    info = client.wait_for_orchestration("crash-1", 90)
    # Then it completes, and no step whose completion had been recorded ran again; only the step
    # in flight at the kill (its side effect done, its completion not yet recorded) may run twice
    assert (info.status, info.output) == ("completed", 20)
    assert set(ends(ledger, "crash-1/")) == {f"crash-1/{i}" for i in range(20)}
    starts = Counter(tag[:-6] for tag, _, _ in read_ledger(ledger) if tag.endswith(":start"))
    assert all(starts[t] == 1 for t in recorded), "a step recorded as completed ran again"
    assert sum(n - 1 for n in starts.values()) <= 1, "only the step in flight at the kill may run twice"
    history = client.read_history("crash-1")
    assert sum(e.kind == "ActivityCompleted" for e in history) == 20


def test_a_durable_timer_fires_after_a_restart(client: Client, url: str, spawn_worker: SpawnWorker,
                                              ledger: Path) -> None:
    first = runtime(spawn_worker, url)
    client.start_orchestration("nap-1", "crash.nap", 1500)
    wait_until(lambda: any(e.kind == "TimerCreated" for e in client.read_history("nap-1")), 30, "the timer")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(2.0)        # the runtime is down when the timer falls due
    runtime(spawn_worker, url)
    info = client.wait_for_orchestration("nap-1", 60)
    assert (info.status, info.output) == ("completed", "nap-1/after")
    fired = [e for e in client.read_history("nap-1") if e.kind == "TimerFired"]
    assert len(fired) == 1


def test_several_runtimes_never_run_the_same_step_twice(client: Client, url: str, spawn_worker: SpawnWorker,
                                                       ledger: Path) -> None:
    for _ in range(3):
        runtime(spawn_worker, url)
    instances = [f"multi-{n}" for n in range(30)]
    for instance in instances:
        # steps of 0.1 s: one runtime's 8 slots hold 8 chains at a time, so the others, up within
        # a second or two, find the rest of the 30 waiting for them
        client.start_orchestration(instance, "crash.steps", {"count": 10, "seconds": 0.1})
    for instance in instances:
        assert client.wait_for_orchestration(instance, 120).output == 10
    executed = ends(ledger, "multi-")
    assert len(executed) == 300 and set(executed.values()) == {1}
    assert len({pid for tag, pid, _ in read_ledger(ledger) if tag.startswith("multi-")}) >= 2
    for instance in instances:
        scheduled = [e.data["seq"] for e in client.read_history(instance) if e.kind == "ActivityScheduled"]
        assert sorted(scheduled) == list(range(10))
