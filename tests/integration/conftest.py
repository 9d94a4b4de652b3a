"""Fixtures for tests with real worker processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SpawnWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """The folder where test tasks record each execution."""
    path = tmp_path / "ledger"
    path.mkdir()
    return path


@pytest.fixture
def spawn_worker(ledger: Path, subprocess_env: dict[str, str], tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start `treadle worker --tasks e2e_tasks` processes on a URL; any still alive at the end are killed."""
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def spawn(url: str, *extra: str, lease: float = 5, heartbeat: float = 1) -> subprocess.Popen[bytes]:
        env = dict(subprocess_env, TREADLE_TEST_LEDGER=str(ledger), TREADLE_SWEEP_SECONDS="0.2")
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        cmd = [sys.executable, "-m", "treadle", "worker", "--url", url, "--tasks", "e2e_tasks",
               "--lease-seconds", str(lease), "--heartbeat-seconds", str(heartbeat), *extra]
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    for log in logs:
        log.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `predicate` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
