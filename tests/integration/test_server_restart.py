"""The server killed and restarted while remote worker processes run tasks: nothing lost, each result once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_tasks import read_ledger, slow_tag
from live_server import free_port

from treadle import Client, TaskStatus
from treadle.core import signing
from treadle.storage import open_storage

from .conftest import wait_until

pytestmark = pytest.mark.slow


class Processes:
    """Server and worker processes of one test, with their logs; all killed at the end."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed by the child
        proc = subprocess.Popen([sys.executable, "-m", "treadle", *args], env=env or self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("*.log")))


@pytest.fixture
def processes(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Processes]:
    procs = Processes(tmp_path, subprocess_env)
    yield procs
    for proc in procs.procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_server_killed_and_restarted_mid_run_loses_nothing(tmp_path: Path, processes: Processes, ledger: Path,
                                                           subprocess_env: dict[str, str]) -> None:
    # Given a server with two remote worker processes draining slow tasks
    db = f"sqlite:///{tmp_path / 'server.db'}"
    secret = signing.new_worker_secret()

    async def credentials() -> None:
        store = open_storage(db)
        await store.open()
        for w in ("w1", "w2"):
            await store.add_credential("worker", f"{w}", "default", secret=secret)  # type: ignore[attr-defined]
        await store.close()

    asyncio.run(credentials())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_args = ("server", "--db", db, "--port", str(port), "--log-level", "warning")
    processes.start("server", *server_args)
    wait_until(lambda: ready(url), 30, "the server to be ready")
    with Client(db) as client:
        client.submit_many([client.submit_task(slow_tag, {"i": i, "seconds": 0.02}) for i in range(600)])
        workers = []
        for w in ("w1", "w2"):
            env = dict(subprocess_env, TREADLE_TEST_LEDGER=str(ledger), TREADLE_WORKER_TOKEN=secret)
            workers.append(processes.start(w, "worker", "--url", url, "--worker-id", w, "--tasks", "e2e_tasks",
                                           "--concurrency", "4", "--lease-seconds", "5", "--heartbeat-seconds", "1",
                                           "--reconnect-interval", "0.2", env=env))
        wait_until(lambda: len(read_ledger(ledger)) > 60, 60, "the run to be under way")
        # When the server is killed and, a moment later, started again on the same port
        processes.procs[0].send_signal(signal.SIGKILL)
        processes.procs[0].wait(10)
        assert len(read_ledger(ledger)) < 600, "the kill must land mid-run"
        processes.start("server", *server_args)
        # Then the workers reconnect by themselves and every task is recorded exactly once
        wait_until(lambda: Counter(i.status for i in client.list(limit=1000)) == {TaskStatus.SUCCEEDED: 600},
                   120, "600 successes")
        assert all(w.poll() is None for w in workers), processes.logs()
        infos = client.list(limit=1000)
    assert sorted(i.result for i in infos) == list(range(600))
    executions = Counter(tag for tag, _, _ in read_ledger(ledger))
    assert set(executions) == {str(i) for i in range(600)}
    twice = {tag for tag, n in executions.items() if n > 1}
    assert all(i.attempts > 1 for i in infos if str(i.result) in twice), "a task ran twice only when re-run"
    assert "reconnecting" in processes.logs()
