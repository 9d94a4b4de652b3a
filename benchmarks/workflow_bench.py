"""treadle's own workflow benchmark: sequential chains and one large fan-out, on any backend.

    python benchmarks/workflow_bench.py                                   # SQLite in a temp folder
    python benchmarks/workflow_bench.py --url 'postgresql://postgres@127.0.0.1:5432/test?schema=treadle_wfbench'

It runs a `Runtime` and a `Client` in this process (as the shared harness's workflow workload does):

- chains: `--instances` (200) orchestrations of `--steps` (10) sequential no-op activities, all started at
  once and awaited: workflow steps/s; then `--sequential` (20) more one at a time: the per-step time one
  workflow sees;
- fan-out: one orchestration scheduling `--fanout` (1000) no-op activities at once and joining them with
  `ctx.all`: activities/s and the total time.

The store is emptied first (the SQLite file deleted, the PostgreSQL schema dropped), so never point it at
real data.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import tempfile
import time
import uuid
from typing import Any

import treadle
from treadle import Client, OrchestrationContext, Runtime, orchestration, task


@task(name="wfbench.step")
async def step(k: int) -> int:
    return k


@orchestration(name="wfbench.chain")
def chain(ctx: OrchestrationContext, steps: int) -> Any:
    for k in range(steps):
        yield ctx.schedule_activity(step, k)
    return steps


@orchestration(name="wfbench.fanout")
def fanout(ctx: OrchestrationContext, n: int) -> Any:
    results = yield ctx.all([ctx.schedule_activity(step, k) for k in range(n)])
    return len(results)


def reset(url: str) -> None:
    """Empty the benchmark's store."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm", "-notify"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    import psycopg
    from psycopg import sql

    base, _, query = url.partition("?")
    schema = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("schema", "treadle_wfbench")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def wait_all(client: Client, ids: list[str]) -> None:
    for instance in ids:
        info = client.wait_for_orchestration(instance, 300)
        if info.status != "completed":
            raise SystemExit(f"{instance}: {info.status} {info.error}")


def main() -> None:
    compileall.compile_dir(os.path.dirname(treadle.__file__), quiet=1)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="storage URL (default: a SQLite file in a temporary folder)")
    p.add_argument("--instances", type=int, default=200)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sequential", type=int, default=20)
    p.add_argument("--fanout", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=64)
    a = p.parse_args()
    scratch = None
    url = a.url
    if url is None:
        scratch = tempfile.mkdtemp(prefix="treadle-wfbench-")
        url = f"sqlite:///{os.path.join(scratch, 'wf.db')}"
    elif url.startswith("postgres") and "schema=" not in url:
        url += ("&" if "?" in url else "?") + "schema=treadle_wfbench"
    reset(url)
    runtime = Runtime(url, tasks=[step, chain, fanout], concurrency=a.concurrency)
    runtime.start()
    try:
        with Client(url) as client:
            run = uuid.uuid4().hex[:6]
            ids = [f"chain-{run}-{j}" for j in range(a.instances)]
            started = time.perf_counter()
            for instance in ids:
                client.start_orchestration(instance, "wfbench.chain", a.steps)
            wait_all(client, ids)
            wall = time.perf_counter() - started
            started = time.perf_counter()
            for j in range(a.sequential):
                client.start_orchestration(f"seq-{run}-{j}", "wfbench.chain", a.steps)
                wait_all(client, [f"seq-{run}-{j}"])
            seq = time.perf_counter() - started
            started = time.perf_counter()
            client.start_orchestration(f"fan-{run}", "wfbench.fanout", a.fanout)
            wait_all(client, [f"fan-{run}"])
            fan = time.perf_counter() - started
    finally:
        runtime.shutdown()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    steps = a.instances * a.steps
    print(f"treadle {treadle.__version__} workflows on {url.split('://')[0]}, runtime concurrency {a.concurrency}")
    print(f"{a.instances} chains x {a.steps} steps at once:   {steps / wall:8.0f} steps/s  ({wall:.2f} s)")
    print(f"{a.sequential} chains one at a time:        {seq * 1000 / (a.sequential * a.steps):8.2f} ms per step")
    print(f"one fan-out of {a.fanout} activities:   {a.fanout / fan:8.0f} activities/s ({fan:.2f} s)")


if __name__ == "__main__":
    main()
