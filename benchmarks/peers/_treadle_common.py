"""What the treadle adapters for the shared peer harness have in common (`treadle_sqlite.py`, `treadle_pg.py`).

The harness (`run_peers.py`, `peers/_common.py`) lives outside this repository, in
`<repo>/../shared/bench` by default; set `TREADLE_BENCH_SHARED` to its folder otherwise.
Importing this module puts the harness's `peers/` folder and this folder on `sys.path`.

The benchmark tasks live here, at module level with explicit names: each adapter re-exports
them, so a worker started with `--tasks treadle_<backend>` finds them, and the adapter process
and its workers register the very same definitions whether the adapter runs as `__main__` or not.
An adapter subclasses `TreadleAdapter`, sets `name`, `module`, `worker_config` and `url`, and
resets its backend in `setup()` before calling `open_client()`.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def harness_peers_dir() -> str:
    """The shared harness's `peers/` folder (holds `_common.py`)."""
    base = os.environ.get("TREADLE_BENCH_SHARED") or os.path.join(REPO, os.pardir, "shared", "bench")
    return os.path.abspath(os.path.join(base, "peers"))


PEERS = harness_peers_dir()
for _p in (PEERS, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _common import Adapter, main, pg_dsn, record_done, spawn  # noqa: E402

import treadle  # noqa: E402
from treadle import task  # noqa: E402

__all__ = ["PEERS", "TreadleAdapter", "concurrency_from_env", "main", "noop", "noop_r", "pg_dsn",
           "record_done", "spawn"]


@task(name="bench.noop")
async def noop(i: int) -> None:
    record_done(i)


@task(name="bench.noop_r")
async def noop_r(i: int) -> int:
    record_done(i)
    return i


def concurrency_from_env(default: int) -> int:
    """The worker `--concurrency`: `TREADLE_BENCH_CONCURRENCY`, else the adapter's chosen default."""
    return int(os.environ.get("TREADLE_BENCH_CONCURRENCY") or default)


class TreadleAdapter(Adapter):
    """Enqueue, workers and round trip, the same on every backend; `setup()` is the backend's."""

    package = "treadle"
    WORKLOADS = ("throughput", "latency")
    module = ""            # the adapter module's name, which the workers import (`--tasks`)
    concurrency = 8        # worker --concurrency
    url = ""               # storage URL, final once setup() has run

    def open_client(self) -> None:
        """Open the client on `self.url` (which creates or migrates the schema).

        Also compiles treadle's bytecode, as a regular (non-editable) install does: this machine
        sets PYTHONDONTWRITEBYTECODE, so an editable checkout would otherwise recompile its sources
        in every worker at start-up (about 0.18 s of each worker's start).
        """
        compileall.compile_dir(os.path.dirname(treadle.__file__), quiet=1)
        self.client = treadle.Client(self.url)

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def enqueue(self, n: int) -> None:
        client = self.client
        for i in range(n):
            client.submit_task(noop, [i]).submit()

    def start_workers(self, procs: int, purpose: str) -> list[subprocess.Popen[bytes]]:
        cmd = [sys.executable, "-m", "treadle", "worker", "--url", self.url, "--tasks", self.module,
               "--concurrency", str(self.concurrency), "--log-level", "WARNING"]
        # spawn() puts the harness's peers/ on PYTHONPATH, but env_extra replaces the variable: name both
        # folders, so the worker imports the adapter module by its name and that finds `_common`.
        path = os.pathsep.join([HERE, PEERS] + [p for p in [os.environ.get("PYTHONPATH", "")] if p])
        env = {"PYTHONPATH": path, "TREADLE_BENCH_SHARED": os.path.dirname(PEERS)}
        return [spawn(cmd, env_extra=env, log_name=f"{self.name}.{purpose}.{k}") for k in range(procs)]

    def roundtrip(self, task_id: int) -> None:
        handle = self.client.submit_task(noop_r, [task_id]).submit()
        result = handle.wait(timeout=30)
        if not result.success or result.value != task_id:
            raise RuntimeError(f"treadle: bad result for {task_id}: {result}")
