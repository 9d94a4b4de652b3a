"""treadle through its server (remote client over HTTP, remote workers over the WebSocket) on PostgreSQL.

Run it through the shared harness beside `treadle_pg.py` (direct PostgreSQL) in one run::

    python shared/bench/run_peers.py --peers "$PWD/main/benchmarks/peers/treadle_pg.py",\
"$PWD/main/benchmarks/peers/treadle_server.py" --workloads throughput,latency

`setup()` empties the schema `treadle_bench_server` of the harness's database, creates a client
API key and a worker credential in it (as `treadle auth` does), and starts one
`python -m treadle server` process on a free loopback port, with authentication on. The client
is `treadle.Client("http://127.0.0.1:<port>", api_key=...)`; workers are
`python -m treadle worker --url http://127.0.0.1:<port> --worker-id bench --tasks treadle_server`
with the secret in `$TREADLE_WORKER_TOKEN`. The server process is infrastructure, like the
PostgreSQL server: it is not one of the 2 worker processes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _treadle_common import (
    HERE,
    PEERS,
    TreadleAdapter,
    compile_treadle,
    concurrency_from_env,
    main,
    noop,
    noop_r,
    spawn,
)
from treadle_pg import CONCURRENCY as PG_CONCURRENCY
from treadle_pg import ensure_database

import treadle
from treadle.core import signing
from treadle.storage import open_storage

__all__ = ["TreadleServerAdapter", "noop", "noop_r"]   # the workers find the tasks here (--tasks treadle_server)

SCHEMA = "treadle_bench_server"
CONCURRENCY = concurrency_from_env(PG_CONCURRENCY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TreadleServerAdapter(TreadleAdapter):
    name = "treadle-server-pg"
    module = "treadle_server"
    concurrency = CONCURRENCY
    WORKLOADS = ("throughput", "latency")
    worker_config = (f"throughput: N x `python -m treadle worker --url http://127.0.0.1:<port> --concurrency "
                     f"{CONCURRENCY}` over the WebSocket, 1 `treadle server` process (auth on) over PostgreSQL schema "
                     "treadle_bench_server; latency: 1 such worker; client: `treadle.Client(http URL, api_key)`, "
                     "one submit per task, `handle.wait()` woken by the server's pushed hints")

    def setup(self) -> None:
        dsn = ensure_database()
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        db = f"{dsn}{'&' if '?' in dsn else '?'}schema={SCHEMA}"
        self.api_key, self.secret = signing.new_api_key(), signing.new_worker_secret()

        async def credentials() -> None:
            store = open_storage(db)
            await store.open()
            await store.add_credential("client", "bench", "default",  # type: ignore[attr-defined]
                                       key_hash=signing.hash_key(self.api_key))
            await store.add_credential("worker", "bench", "default", secret=self.secret)  # type: ignore[attr-defined]
            await store.close()

        asyncio.run(credentials())
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = spawn([sys.executable, "-m", "treadle", "server", "--db", db, "--port", str(port),
                             "--log-level", "warning"], log_name=f"{self.name}.server")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError("the treadle server did not start")
            time.sleep(0.05)
        compile_treadle()
        self.client = treadle.Client(self.url, api_key=self.api_key)

    def start_workers(self, procs: int, purpose: str) -> list[subprocess.Popen[bytes]]:
        cmd = [sys.executable, "-m", "treadle", "worker", "--url", self.url, "--worker-id", "bench", "--tasks",
               self.module, "--concurrency", str(self.concurrency), "--log-level", "WARNING"]
        path = os.pathsep.join([HERE, PEERS] + [p for p in [os.environ.get("PYTHONPATH", "")] if p])
        env = {"PYTHONPATH": path, "TREADLE_BENCH_SHARED": os.path.dirname(PEERS), "TREADLE_WORKER_TOKEN": self.secret}
        return [spawn(cmd, env_extra=env, log_name=f"{self.name}.{purpose}.{k}") for k in range(procs)]

    def teardown(self) -> None:
        super().teardown()
        server = getattr(self, "server", None)
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main(TreadleServerAdapter)
