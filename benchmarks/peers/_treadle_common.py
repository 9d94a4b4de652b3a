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
import time
import uuid
from typing import Any

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

__all__ = [
    "PEERS",
    "TreadleAdapter",
    "chain",
    "compile_treadle",
    "concurrency_from_env",
    "main",
    "noop",
    "noop_r",
    "pg_dsn",
    "record_done",
    "spawn",
    "step",
]


@task(name="bench.noop")
async def noop(i: int) -> None:
    record_done(i)


@task(name="bench.noop_r")
async def noop_r(i: int) -> int:
    record_done(i)
    return i


@task(name="bench.step")
async def step(k: int) -> int:
    """The no-op activity of the workflow workload."""
    return k


@treadle.orchestration(name="bench.chain")
def chain(ctx: treadle.OrchestrationContext, steps: int) -> Any:
    """`steps` sequential no-op activities (the harness's workflow workload)."""
    for k in range(steps):
        yield ctx.schedule_activity(step, k)
    return steps


def concurrency_from_env(default: int) -> int:
    """The worker `--concurrency`: `TREADLE_BENCH_CONCURRENCY`, else the adapter's chosen default."""
    return int(os.environ.get("TREADLE_BENCH_CONCURRENCY") or default)


def compile_treadle() -> None:
    """Write the bytecode of what the workers import once (see `TreadleAdapter.open_client`).

    treadle, these adapters and the harness's `_common` (which every peer's workers import too).
    """
    compileall.compile_dir(os.path.dirname(treadle.__file__), quiet=1)
    compileall.compile_dir(HERE, quiet=1, maxlevels=0)
    compileall.compile_file(os.path.join(PEERS, "_common.py"), quiet=1)


class TreadleAdapter(Adapter):
    """Enqueue, workers, round trip and workflows, the same on every backend; `setup()` is the backend's."""

    package = "treadle"
    WORKLOADS = ("throughput", "latency", "workflow")
    workflow_concurrency = 64
    module = ""            # the adapter module's name, which the workers import (`--tasks`)
    concurrency = 8        # worker --concurrency
    url = ""               # storage URL, final once setup() has run

    def open_client(self) -> None:
        """Open the client on `self.url` (which creates or migrates the schema).

        Also compiles the bytecode of what the workers import, as a regular (non-editable) install
        does: this machine sets PYTHONDONTWRITEBYTECODE, so an editable checkout would otherwise
        recompile its sources in every worker at start-up (about 0.18 s of each worker's start;
        the harness's `_common`, imported by every peer's workers, is compiled for all alike).
        """
        compile_treadle()
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

    def workflow(self, n_wf: int, steps: int, sequential: int) -> dict[str, float]:
        """Runtime and client in this process, as the harness asks: n_wf chains at once, then one at a time."""
        runtime = treadle.Runtime(self.url, tasks=[step, chain], concurrency=self.workflow_concurrency)
        runtime.start()
        try:
            run = uuid.uuid4().hex[:8]
            started = time.perf_counter()
            ids = [f"wf-{run}-{j}" for j in range(n_wf)]
            for instance in ids:
                self.client.start_orchestration(instance, "bench.chain", steps)
            for instance in ids:
                self._wait(instance)
            wall = time.perf_counter() - started
            started = time.perf_counter()
            for j in range(sequential):
                instance = f"seq-{run}-{j}"
                self.client.start_orchestration(instance, "bench.chain", steps)
                self._wait(instance)
            return {"wf_wall_s": wall, "seq_wall_s": time.perf_counter() - started}
        finally:
            runtime.shutdown()

    def _wait(self, instance: str) -> None:
        info = self.client.wait_for_orchestration(instance, 120)
        if info.status != "completed":
            raise RuntimeError(f"treadle {instance}: {info.status} {info.error}")

    def roundtrip(self, task_id: int) -> None:
        handle = self.client.submit_task(noop_r, [task_id]).submit()
        result = handle.wait(timeout=30)
        if not result.success or result.value != task_id:
            raise RuntimeError(f"treadle: bad result for {task_id}: {result}")
