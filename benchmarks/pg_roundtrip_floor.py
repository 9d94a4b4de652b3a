"""The floor of a submit-to-result round trip on PostgreSQL, without treadle: what the database costs.

    python benchmarks/pg_roundtrip_floor.py [--url postgresql://postgres@127.0.0.1:5432/test] [--samples 400]

The same statements a durable queue needs, with blocking psycopg and nothing else: the client
inserts a task and notifies in one statement; a worker process, woken by `LISTEN`, claims it with
`FOR UPDATE SKIP LOCKED`, records the result and notifies; the client, woken in turn, reads the
result. It prints the p50/p99 round trip and the CPU per round trip of each process (from /proc),
to compare with `bench.py`'s latency figures. Its table lives in the schema `treadle_floor`,
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

import psycopg

SCHEMA = "treadle_floor"


def cpu_ticks() -> dict[str, int]:
    """user+system clock ticks of every process, by "name:pid"."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[f"{stat[stat.index('(') + 1:stat.rindex(')')]}:{pid}"] = int(fields[11]) + int(fields[12])
    return out


def worker(url: str) -> None:
    listen = psycopg.connect(url, autocommit=True)
    listen.execute("LISTEN floor_work")
    work = psycopg.connect(url, autocommit=True)
    print("listening", flush=True)        # the client starts only then: a notification before is lost
    with work.cursor() as cur:
        while True:
            note = next(listen.notifies(timeout=30, stop_after=1), None)
            if note is None or note.payload == "stop":
                return
            while True:
                cur.execute("UPDATE tasks t SET status = 'running', lease = %s FROM (SELECT id FROM tasks "
                            "WHERE status = 'pending' LIMIT 10 FOR UPDATE SKIP LOCKED) p WHERE t.id = p.id "
                            "RETURNING t.id, t.arg", (uuid.uuid4().hex,), prepare=True)
                rows = cur.fetchall()
                if not rows:
                    break
                for task_id, arg in rows:
                    cur.execute("WITH u AS (UPDATE tasks SET status = 'done', result = %s WHERE id = %s RETURNING id) "
                                "SELECT pg_notify('floor_done', id) FROM u", (arg, task_id), prepare=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--samples", type=int, default=400)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    url = a.url + ("&" if "?" in a.url else "?") + f"options=-csearch_path%3D{SCHEMA}"
    if a.worker:
        worker(url)
        return
    admin = psycopg.connect(a.url, autocommit=True)
    admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    admin.execute(f"CREATE SCHEMA {SCHEMA}")
    admin.execute(f"CREATE TABLE {SCHEMA}.tasks (id text PRIMARY KEY, status text, arg int, result int, lease text)")
    admin.execute(f"CREATE INDEX ON {SCHEMA}.tasks (status) WHERE status = 'pending'")
    proc = subprocess.Popen([sys.executable, __file__, "--worker", "--url", a.url], stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout is None or proc.stdout.readline().strip() != "listening":
            raise RuntimeError("the worker process did not start")
        listen = psycopg.connect(url, autocommit=True)
        listen.execute("LISTEN floor_done")
        client = psycopg.connect(url, autocommit=True)
        lat: list[float] = []
        before = {}
        for i in range(a.samples + 50):
            if i == 50:                 # warm-up done (the worker is up, statements prepared)
                before = cpu_ticks()
            task_id = uuid.uuid4().hex
            t0 = time.perf_counter()
            client.execute("WITH i AS (INSERT INTO tasks VALUES (%s, 'pending', %s) RETURNING id) "
                           "SELECT pg_notify('floor_work', id) FROM i", (task_id, i), prepare=True)
            while next(listen.notifies(timeout=30, stop_after=1)).payload != task_id:
                pass
            row = client.execute("SELECT result FROM tasks WHERE id = %s", (task_id,), prepare=True).fetchone()
            if row is None or row[0] != i:
                raise RuntimeError(f"bad result for task {i}: {row}")
            if i >= 50:
                lat.append((time.perf_counter() - t0) * 1000)
        after = cpu_ticks()
        client.execute("NOTIFY floor_work, 'stop'")
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    lat.sort()
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    used = sorted(((after[k] - before.get(k, 0)) * tick_ms / a.samples, k) for k in after
                  if after[k] - before.get(k, 0) > 0 and k.split(":")[0] in ("python", "python3", "postgres"))
    print(f"round trip p50 {lat[len(lat) // 2]:.2f} ms, p99 {lat[int(len(lat) * 0.99)]:.2f} ms ({a.samples} samples)")
    for ms, who in reversed(used):
        print(f"  CPU per round trip {ms:5.2f} ms  {who}")


if __name__ == "__main__":
    main()
