"""treadle on its PostgreSQL backend, as an adapter for the shared peer harness.

The harness (`run_peers.py`, `peers/_common.py`) lives outside this repository, in
`<repo>/../shared/bench` by default; set `TREADLE_BENCH_SHARED` to its folder otherwise.
Run it through the harness, e.g. from the folder that holds `shared/` and this repository,
after `bash shared/bench/setup_services.sh` (and exporting the variables it prints)::

    python shared/bench/run_peers.py --peers pgqueuer_pg,"$PWD/main/benchmarks/peers/treadle_pg.py" \
        --workloads throughput,latency

Database: the harness's `pg_dsn("bench_treadle")`. In `per-peer` mode (`BENCH_PG_DB_MODE`) a missing
`bench_treadle` database is created from the `postgres` database; if that is not allowed, the
shared database (`BENCH_PG_SHARED_DB`) is used. treadle's tables live in the schema `treadle_bench`,
dropped (CASCADE) at the start of every run; opening the client creates and migrates it again.
Workers are `python -m treadle worker --tasks treadle_pg`: the tasks, the enqueue loop, the workers
and the round trip are shared with `treadle_sqlite.py` in `_treadle_common.py` (next to this file).
Environment: `TREADLE_BENCH_CONCURRENCY` (worker `--concurrency`; default below) and
`TREADLE_BENCH_POOL_MAX` (the URL's `pool_max`, connections per event loop; default: treadle's).
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _treadle_common import TreadleAdapter, concurrency_from_env, main, noop, noop_r, pg_dsn

__all__ = ["TreadlePgAdapter", "noop", "noop_r"]    # the workers find the tasks here (--tasks treadle_pg)

DATABASE = "bench_treadle"
SCHEMA = "treadle_bench"
# Chosen by a sweep of 32 / 64 / 128 / 256 / 512 on the 2-core machine (see benchmarks/README.md).
CONCURRENCY = concurrency_from_env(256)
POOL_MAX = os.environ.get("TREADLE_BENCH_POOL_MAX", "")


def with_database(dsn: str, database: str) -> str:
    """The same libpq URL, naming another database."""
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


def ensure_database() -> str:
    """The libpq URL of treadle's benchmark database, created first if the harness runs per-peer databases."""
    dsn = pg_dsn(DATABASE)
    if os.environ.get("BENCH_PG_DB_MODE", "per-peer") == "shared":
        return dsn
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
        return dsn
    except psycopg.OperationalError as exc:
        if DATABASE not in str(exc):
            raise                       # not "database does not exist": the server itself is the problem
    try:
        with psycopg.connect(with_database(dsn, "postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        return dsn
    except psycopg.errors.DuplicateDatabase:
        return dsn                      # created meanwhile by someone else
    except psycopg.Error as exc:
        shared = os.environ.get("BENCH_PG_SHARED_DB", "test")
        print(f"treadle-pg: cannot create database {DATABASE} ({str(exc).strip()}); using {shared}",
              file=sys.stderr)
        return with_database(dsn, shared)


def treadle_url(dsn: str) -> str:
    options = f"schema={SCHEMA}" + (f"&pool_max={POOL_MAX}" if POOL_MAX else "")
    return f"{dsn}{'&' if '?' in dsn else '?'}{options}"


class TreadlePgAdapter(TreadleAdapter):
    name = "treadle-pg"
    module = "treadle_pg"
    concurrency = CONCURRENCY
    worker_config = (f"throughput: N x `python -m treadle worker --tasks treadle_pg --concurrency {CONCURRENCY}` "
                     "(thread mode, async no-op tasks run on the worker's loop), schema treadle_bench, "
                     f"pool_max {POOL_MAX or 'default (10)'}, synchronous_commit as the server has it, idle workers "
                     "woken by LISTEN/NOTIFY; latency: 1 such worker, `handle.wait()` (LISTEN/NOTIFY hint, no poll "
                     "setting); enqueue one `Client.submit_task(...).submit()` per task")

    def setup(self) -> None:
        dsn = ensure_database()
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        self.url = treadle_url(dsn)
        self.open_client()      # creates the schema and runs the migrations


if __name__ == "__main__":
    main(TreadlePgAdapter)
