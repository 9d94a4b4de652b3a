"""treadle's own benchmark: enqueue, drain and round-trip figures, without the peer harness.

    python benchmarks/bench.py                       # SQLite scratch file, N=5000, 2 workers, 300 samples
    python benchmarks/bench.py --n 20000 --concurrency 64 --json
    python benchmarks/bench.py --url 'postgresql://postgres@127.0.0.1:5432/test?schema=treadle_bench'

Backends: `--url` picks one. Without it, a SQLite file in a fresh temporary folder. A `sqlite:///` URL
names the file to use; a `postgresql://` URL a database and, with `?schema=`, the schema (default
`treadle_bench`, never treadle's default `treadle`). Each phase starts from an empty store: the
SQLite file is deleted, the PostgreSQL schema dropped (CASCADE), so never point it at real data.

What it measures (the same definitions as the shared peer harness, so figures compare):

- enqueue, single: one client submits N no-op tasks, one `submit()` call (one transaction) each;
- enqueue, batch: the same N tasks through `submit_many` in batches of `--batch` (100);
- drain: the single-enqueued tasks are run by `--workers` (2) worker processes
  (`python -m treadle worker --tasks bench --concurrency C`); `drain/s` counts from the
  spawn of the workers (start-up included), `steady/s` from the first completion to the last;
- latency: one idle worker; submit one task, `handle.wait()` for its result; `--warmup` (20)
  round trips, then `--samples` (300) measured ones: p50, p99, mean, max;
- delayed start: the same idle worker; `--delayed` (30) tasks, one at a time, each submitted with
  `.delay(--delay)` (0.2 s): how long after its due time (`run_after`) each one started
  (`started_at`; both stamped by the store's clock): p50 and max.

Every task body appends "<id> <unix time>" to a per-process file (one O_APPEND write), so the
drain is timed by the tasks themselves and the run fails if an id is missing or ran twice;
the database is also checked (every row succeeded, after exactly one attempt).
Scratch files (done files, worker logs, the default SQLite file) go to a fresh temporary folder;
it and the store (SQLite file or PostgreSQL schema) are removed at the end (`--keep` keeps them).
"""

from __future__ import annotations

import argparse
import atexit
import compileall
import glob
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import treadle  # noqa: E402
from treadle import task  # noqa: E402

DONE_ENV = "TREADLE_BENCH_DONE_DIR"

# ----------------------------------------------------------------- task side (runs in the workers)

_fd: int | None = None
_fd_pid: int | None = None


def record_done(task_id: int) -> None:
    """Append "<id> <time>" to this process's done file (one write syscall)."""
    global _fd, _fd_pid
    pid = os.getpid()
    if _fd is None or _fd_pid != pid:
        path = os.path.join(os.environ[DONE_ENV], f"done.{pid}")
        _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _fd_pid = pid
    os.write(_fd, b"%d %.6f\n" % (int(task_id), time.time()))


@task(name="bench.noop")
async def noop(i: int) -> None:
    record_done(i)


@task(name="bench.noop_r")
async def noop_r(i: int) -> int:
    record_done(i)
    return i


# ----------------------------------------------------------------- client side


def read_done(done_dir: str) -> tuple[dict[int, int], list[float]]:
    """Completions so far: {id: times seen}, and their timestamps."""
    seen: dict[int, int] = {}
    stamps: list[float] = []
    for path in glob.glob(os.path.join(done_dir, "done.*")):
        with open(path, "rb") as f:
            for line in f.read().split(b"\n"):
                parts = line.split()
                if len(parts) != 2:
                    continue
                tid = int(parts[0])
                seen[tid] = seen.get(tid, 0) + 1
                stamps.append(float(parts[1]))
    return seen, stamps


def pctl(xs: list[float], q: float) -> float:
    """Percentile with linear interpolation (as the peer harness computes it)."""
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


Summary = dict[str, dict[str, int]]


class SqliteStore:
    """A SQLite file: reset by deleting it (and its WAL, shared-memory and notify files)."""

    def __init__(self, url: str | None, scratch: str) -> None:
        if url is None:
            self.path = os.path.join(scratch, "bench.db")
            self.url = f"sqlite:///{self.path}"
        else:   # absolute, because the workers run in the scratch folder
            parts = urlsplit(url)
            self.path = os.path.abspath(unquote(parts.path[1:]) if "://" in url else url)
            self.url = f"sqlite:///{self.path}" + (f"?{parts.query}" if "://" in url and parts.query else "")
        self.synchronous = dict(parse_qsl(urlsplit(self.url).query)).get("synchronous", "FULL").upper()

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous={self.synchronous})"

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)

    def summary(self) -> Summary:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT status, count(*), min(attempts), max(attempts) FROM tasks "
                                "GROUP BY status").fetchall()
        finally:
            conn.close()
        return {status: {"count": n, "min_attempts": lo, "max_attempts": hi} for status, n, lo, hi in rows}


class PostgresStore:
    """A schema in a PostgreSQL database: reset by dropping it (CASCADE); the client migrates it again."""

    DEFAULT_SCHEMA = "treadle_bench"

    def __init__(self, url: str) -> None:
        import psycopg

        from treadle.storage.postgres import parse_url

        self.psycopg = psycopg
        self.conninfo, own = parse_url(url)
        self.schema = own.get("schema") or own.get("search_path") or ""
        if not self.schema:               # never the default schema `treadle`, which may hold real work
            self.schema = self.DEFAULT_SCHEMA
            url += ("&" if urlsplit(url).query else "?") + f"schema={self.schema}"
        self.url = url

    def _connect(self) -> Any:
        return self.psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)

    def describe(self) -> str:
        with self._connect() as conn:
            show = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                    for k in ("server_version", "synchronous_commit", "fsync")}
        return (f"PostgreSQL {show['server_version'].split()[0]} (synchronous_commit={show['synchronous_commit']}, "
                f"fsync={show['fsync']}), schema {self.schema}")

    def reset(self) -> None:
        from psycopg import sql

        with self._connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def summary(self) -> Summary:
        from psycopg import sql

        with self._connect() as conn:
            rows = conn.execute(sql.SQL("SELECT status, count(*), min(attempts), max(attempts) FROM {}.tasks "
                                        "GROUP BY status").format(sql.Identifier(self.schema))).fetchall()
        return {status: {"count": n, "min_attempts": lo, "max_attempts": hi} for status, n, lo, hi in rows}


def open_store(url: str | None, scratch: str) -> SqliteStore | PostgresStore:
    scheme = url.split("://", 1)[0].lower() if url and "://" in url else "sqlite"
    if scheme in ("postgresql", "postgres"):
        assert url is not None
        return PostgresStore(url)
    if scheme == "sqlite":
        return SqliteStore(url, scratch)
    raise SystemExit(f"bench.py: unsupported URL {url!r}: use sqlite:///file.db or postgresql://...")


class Bench:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.scratch = tempfile.mkdtemp(prefix="treadle-bench-")
        self.store = open_store(a.url, self.scratch)
        self.url = self.store.url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.done_dir = ""
        self.run_no = 0

    # ---- state

    def fresh(self) -> treadle.Client:
        """A new empty store and done folder; returns a client on it."""
        self.store.reset()
        self.run_no += 1
        self.done_dir = os.path.join(self.scratch, f"done-{self.run_no}")
        os.makedirs(self.done_dir)
        os.environ[DONE_ENV] = self.done_dir
        return treadle.Client(self.url)

    def db_summary(self) -> Summary:
        return self.store.summary()

    # ---- workers

    def start_workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-m", "treadle", "worker", "--url", self.url, "--tasks", "bench",
               "--concurrency", str(self.a.concurrency), "--log-level", "WARNING"]
        started = []
        for k in range(count):
            log = open(os.path.join(self.scratch, f"worker-{self.run_no}-{k}.log"), "wb")  # noqa: SIM115
            proc = subprocess.Popen(cmd, env=env, cwd=self.scratch, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            log.close()
            started.append(proc)
        self.procs += started
        return started

    def stop_workers(self, grace: float = 10.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.time() + grace
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []

    def cleanup(self) -> None:
        self.stop_workers(grace=3.0)
        if not self.a.keep:
            try:
                self.store.reset()            # drop the benchmark's tables (file or schema)
            except Exception as exc:          # best effort at exit
                print(f"could not remove the benchmark store: {exc}", file=sys.stderr)
            shutil.rmtree(self.scratch, ignore_errors=True)

    # ---- phases

    def enqueue_single_and_drain(self) -> dict[str, Any]:
        n = self.a.n
        with self.fresh() as client:
            t0 = time.perf_counter()
            for i in range(n):
                client.submit_task(noop, [i]).submit()
            enqueue_s = time.perf_counter() - t0
        t_spawn = time.time()
        self.start_workers(self.a.workers)
        deadline = t_spawn + self.a.timeout
        seen: dict[int, int] = {}
        while time.time() < deadline:
            seen, _ = read_done(self.done_dir)
            if len(seen) >= n:
                break
            time.sleep(0.02)
        time.sleep(self.a.grace)              # let a duplicate show up
        self.stop_workers()
        seen, stamps = read_done(self.done_dir)
        unique = len([k for k in seen if 0 <= k < n])
        out: dict[str, Any] = {
            "n": n, "enqueue_s": enqueue_s, "enqueue_per_s": n / enqueue_s, "completed_unique": unique,
            "lost": n - unique, "duplicates": sum(seen.values()) - len(seen), "db": self.db_summary(),
        }
        if stamps:
            first, last = min(stamps), max(stamps)
            out.update(worker_start_s=first - t_spawn, drain_s=last - t_spawn, drain_per_s=unique / (last - t_spawn),
                       drain_steady_per_s=(unique - 1) / (last - first) if last > first else None)
        return out

    def enqueue_batch(self) -> dict[str, Any]:
        n, size = self.a.n, self.a.batch
        with self.fresh() as client:
            t0 = time.perf_counter()
            for start in range(0, n, size):
                client.submit_many([(noop, [i]) for i in range(start, min(n, start + size))])
            enqueue_s = time.perf_counter() - t0
        db = self.db_summary()
        pending = db.get("pending", {}).get("count", 0)
        return {"n": n, "batch": size, "enqueue_s": enqueue_s, "enqueue_per_s": n / enqueue_s, "stored": pending,
                "lost": n - pending}

    def latency(self) -> dict[str, Any]:
        with self.fresh() as client:
            self.start_workers(1)

            def roundtrip(i: int) -> None:
                result = client.submit_task(noop_r, [i]).submit().wait(timeout=30)
                if not result.success or result.value != i:
                    raise RuntimeError(f"bad result for task {i}: {result}")

            t0 = time.perf_counter()
            roundtrip(10_000_000)             # waits for the worker to come up
            ready_s = time.perf_counter() - t0
            for i in range(self.a.warmup):
                roundtrip(20_000_000 + i)
            lat = []
            for i in range(self.a.samples):
                t0 = time.perf_counter()
                roundtrip(i)
                lat.append((time.perf_counter() - t0) * 1000)
            late = []
            for i in range(self.a.delayed):
                handle = client.submit_task(noop_r, [30_000_000 + i]).delay(self.a.delay).submit()
                handle.wait(timeout=30)
                info = handle.info()
                if info.started_at is None:
                    raise RuntimeError(f"delayed task {handle.id} has no start time: {info}")
                late.append((info.started_at - info.run_after) * 1000)
            self.stop_workers()
        return {"samples": len(lat), "first_roundtrip_s": ready_s, "p50_ms": pctl(lat, 0.5),
                "p99_ms": pctl(lat, 0.99), "mean_ms": statistics.fmean(lat), "max_ms": max(lat),
                "delayed": len(late), "delay_s": self.a.delay,
                "late_p50_ms": pctl(late, 0.5) if late else None, "late_max_ms": max(late) if late else None}


def check(res: dict[str, Any], n: int) -> list[str]:
    """Problems found in the results (empty when everything ran exactly once)."""
    problems = []
    drain = res["drain"]
    if drain["lost"] or drain["duplicates"]:
        problems.append(f"drain: {drain['lost']} lost, {drain['duplicates']} ran twice")
    ok = drain["db"].get("succeeded", {})
    if ok.get("count") != n or ok.get("max_attempts") != 1 or len(drain["db"]) != 1:
        problems.append(f"drain: database is not {n} succeeded rows with one attempt each: {drain['db']}")
    if res["enqueue_batch"]["lost"]:
        problems.append(f"batch enqueue: {res['enqueue_batch']['lost']} rows missing")
    return problems


def redact(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def report(res: dict[str, Any], a: argparse.Namespace) -> None:
    d, b, lat = res["drain"], res["enqueue_batch"], res["latency"]
    print(f"treadle {treadle.__version__} on {res['store']}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print(f"N={a.n}, {a.workers} worker processes x concurrency {a.concurrency}, "
          f"latency {a.samples} samples after {a.warmup} warm-ups")
    print(f"enqueue, one submit() per task:      {d['enqueue_per_s']:8.0f} tasks/s ({d['enqueue_s']:.2f} s)")
    print(f"enqueue, submit_many x {b['batch']:<4d}:        {b['enqueue_per_s']:8.0f} tasks/s ({b['enqueue_s']:.2f} s)")
    print(f"drain, worker start-up included:     {d.get('drain_per_s', 0):8.0f} tasks/s "
          f"({d.get('drain_s', 0):.2f} s, first completion {d.get('worker_start_s', 0):.2f} s after spawn)")
    print(f"drain, steady (first to last done):  {d.get('drain_steady_per_s') or 0:8.0f} tasks/s")
    print(f"completed {d['completed_unique']}/{a.n}, lost {d['lost']}, duplicates {d['duplicates']}; "
          f"database: {d['db']}")
    print(f"round trip submit -> result (1 idle worker): p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, "
          f"mean {lat['mean_ms']:.2f} ms, max {lat['max_ms']:.2f} ms")
    if lat["delayed"]:
        print(f"delayed task ({lat['delayed']} x delay {lat['delay_s']} s), start after its due time: "
              f"p50 {lat['late_p50_ms']:.1f} ms, max {lat['late_max_ms']:.1f} ms")


def main() -> int:
    # Bytecode as a regular install has it (an editable checkout under PYTHONDONTWRITEBYTECODE has none).
    compileall.compile_dir(os.path.dirname(treadle.__file__), quiet=1)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="storage URL: sqlite:///file.db or postgresql://...?schema=... "
                   "(default: a SQLite file in a temporary folder); the store is emptied first")
    p.add_argument("--n", type=int, default=5000, help="tasks to enqueue and drain (default 5000)")
    p.add_argument("--workers", type=int, default=2, help="worker processes for the drain (default 2)")
    p.add_argument("--concurrency", type=int, help="worker --concurrency (default: 128 on SQLite, 256 on "
                   "PostgreSQL, each chosen by a sweep, see README.md)")
    p.add_argument("--samples", type=int, default=300, help="measured latency round trips (default 300)")
    p.add_argument("--warmup", type=int, default=20, help="latency warm-up round trips (default 20)")
    p.add_argument("--delayed", type=int, default=30, help="delayed tasks whose start is timed (default 30)")
    p.add_argument("--delay", type=float, default=0.2, help="delay of each of those tasks, s (default 0.2)")
    p.add_argument("--batch", type=int, default=100, help="submit_many batch size (default 100)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up on the drain after this long")
    p.add_argument("--grace", type=float, default=1.0, help="wait after the last completion, for duplicates")
    p.add_argument("--json", action="store_true", help="also print the raw results as one JSON line")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (worker logs) and the store")
    a = p.parse_args()
    bench = Bench(a)
    if a.concurrency is None:
        a.concurrency = 256 if isinstance(bench.store, PostgresStore) else 128
    atexit.register(bench.cleanup)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    res = {"store": bench.store.describe(), "url": redact(bench.url), "drain": bench.enqueue_single_and_drain(),
           "enqueue_batch": bench.enqueue_batch(), "latency": bench.latency()}
    report(res, a)
    if a.json:
        print(json.dumps(res))
    if a.keep:
        print(f"scratch files kept in {bench.scratch}")
    problems = check(res, a.n)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    # re-import under the module name the workers use (`--tasks bench`)
    import bench

    sys.exit(bench.main())
