"""treadle on its embedded SQLite backend, as an adapter for the shared peer harness.

The harness (`run_peers.py`, `peers/_common.py`) lives outside this repository, in
`<repo>/../shared/bench` by default; set `TREADLE_BENCH_SHARED` to its folder otherwise.
Run it through the harness, e.g. from the folder that holds `shared/` and this repository::

    python shared/bench/run_peers.py --peers huey_sqlite,"$PWD/main/benchmarks/peers/treadle_sqlite.py" \
        --workloads throughput,latency

Workers are `python -m treadle worker --tasks treadle_sqlite`, so this module is imported
by name in the workers: tasks are defined at module level with explicit names, and
`__main__` re-imports the module under its own name (as the harness's `huey_sqlite.py`).
Environment: `BENCH_TREADLE_SQLITE` (database file; default in the temp dir) and
`TREADLE_BENCH_CONCURRENCY` (worker `--concurrency`; default below).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile

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

from _common import Adapter, main, record_done, spawn  # noqa: E402

import treadle  # noqa: E402
from treadle import task  # noqa: E402

DB = os.environ.get("BENCH_TREADLE_SQLITE") or os.path.join(tempfile.gettempdir(), "treadle-bench-sqlite",
                                                             "treadle.db")
URL = f"sqlite:///{os.path.abspath(DB)}"
# Chosen by a sweep of 16 / 32 / 64 / 128 / 256 on the 2-core machine (see benchmarks/README.md).
CONCURRENCY = int(os.environ.get("TREADLE_BENCH_CONCURRENCY", "128"))


@task(name="bench.noop")
async def noop(i: int) -> None:
    record_done(i)


@task(name="bench.noop_r")
async def noop_r(i: int) -> int:
    record_done(i)
    return i


class TreadleSqliteAdapter(Adapter):
    name = "treadle-sqlite"
    package = "treadle"
    WORKLOADS = ("throughput", "latency")
    worker_config = (f"throughput: N x `python -m treadle worker --tasks treadle_sqlite --concurrency {CONCURRENCY}` "
                     "(thread mode, async no-op tasks run on the worker's loop), WAL, synchronous=FULL (default), "
                     "change hints via inotify; latency: 1 such worker, `handle.wait()` (inotify hint, no poll "
                     "setting); enqueue one `Client.submit_task(...).submit()` per task")
    module = "treadle_sqlite"

    def setup(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(DB)), exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(DB + suffix)
        self.client = treadle.Client(URL)      # opening creates the file and its schema

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def enqueue(self, n: int) -> None:
        client = self.client
        for i in range(n):
            client.submit_task(noop, [i]).submit()

    def start_workers(self, procs: int, purpose: str) -> list[subprocess.Popen[bytes]]:
        cmd = [sys.executable, "-m", "treadle", "worker", "--url", URL, "--tasks", self.module,
               "--concurrency", str(CONCURRENCY), "--log-level", "WARNING"]
        # spawn() puts the harness's peers/ on PYTHONPATH, but env_extra replaces the variable: name both
        # folders, so the worker imports this module as `treadle_sqlite` and it finds `_common`.
        path = os.pathsep.join([HERE, PEERS] + [p for p in [os.environ.get("PYTHONPATH", "")] if p])
        env = {"PYTHONPATH": path, "TREADLE_BENCH_SHARED": os.path.dirname(PEERS)}
        return [spawn(cmd, env_extra=env, log_name=f"{self.name}.{purpose}.{k}")
                for k in range(procs)]

    def roundtrip(self, task_id: int) -> None:
        handle = self.client.submit_task(noop_r, [task_id]).submit()
        result = handle.wait(timeout=30)
        if not result.success or result.value != task_id:
            raise RuntimeError(f"treadle: bad result for {task_id}: {result}")


if __name__ == "__main__":
    # re-import under the module name the workers use, so both sides share one module object
    import treadle_sqlite

    main(treadle_sqlite.TreadleSqliteAdapter)
