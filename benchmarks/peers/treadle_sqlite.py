"""treadle on its embedded SQLite backend, as an adapter for the shared peer harness.

The harness (`run_peers.py`, `peers/_common.py`) lives outside this repository, in
`<repo>/../shared/bench` by default; set `TREADLE_BENCH_SHARED` to its folder otherwise.
Run it through the harness, e.g. from the folder that holds `shared/` and this repository::

    python shared/bench/run_peers.py --peers huey_sqlite,"$PWD/main/benchmarks/peers/treadle_sqlite.py" \
        --workloads throughput,latency

Workers are `python -m treadle worker --tasks treadle_sqlite`: the tasks, the enqueue loop, the
workers and the round trip are shared with `treadle_pg.py` in `_treadle_common.py` (next to this file).
Environment: `BENCH_TREADLE_SQLITE` (database file; default in the temp dir) and
`TREADLE_BENCH_CONCURRENCY` (worker `--concurrency`; default below).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _treadle_common import TreadleAdapter, concurrency_from_env, main, noop, noop_r

__all__ = ["TreadleSqliteAdapter", "noop", "noop_r"]    # the workers find the tasks here (--tasks treadle_sqlite)

DB = os.environ.get("BENCH_TREADLE_SQLITE") or os.path.join(tempfile.gettempdir(), "treadle-bench-sqlite",
                                                             "treadle.db")
# Chosen by a sweep of 16 / 32 / 64 / 128 / 256 on the 2-core machine (see benchmarks/README.md).
CONCURRENCY = concurrency_from_env(128)


class TreadleSqliteAdapter(TreadleAdapter):
    name = "treadle-sqlite"
    module = "treadle_sqlite"
    url = f"sqlite:///{os.path.abspath(DB)}"
    concurrency = CONCURRENCY
    worker_config = (f"throughput: N x `python -m treadle worker --tasks treadle_sqlite --concurrency {CONCURRENCY}` "
                     "(thread mode, async no-op tasks run on the worker's loop), WAL, synchronous=FULL (default), "
                     "change hints via inotify; latency: 1 such worker, `handle.wait()` (inotify hint, no poll "
                     "setting); enqueue one `Client.submit_task(...).submit()` per task")

    def setup(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(DB)), exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(DB + suffix)
        self.open_client()      # opening creates the file and its schema


if __name__ == "__main__":
    main(TreadleSqliteAdapter)
