"""Shared fixtures: storage backends (parametrised), a frozen clock, URLs in temporary folders.

PostgreSQL tests use `$TREADLE_TEST_PG` (default: the local server, database `test`), each in a
schema of its own that is dropped afterwards. When the server is unreachable they are skipped,
except under CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from treadle.core.clock import FrozenClock
from treadle.storage import Storage, open_storage

HERE = Path(__file__).parent
BACKENDS = ["memory", "sqlite", "postgres", "remote-sqlite", "remote-postgres"]
PG_URL = os.environ.get("TREADLE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_pg_error: list[str] = []


def postgres_or_skip() -> None:
    """Skip (or, under CI, fail) when PostgreSQL is not reachable."""
    if not _pg_error:
        try:
            import psycopg

            with psycopg.connect(PG_URL, connect_timeout=3):
                _pg_error.append("")
        except Exception as exc:
            _pg_error.append(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    if _pg_error[0]:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(_pg_error[0])
        pytest.skip(_pg_error[0])


def drop_schema(schema: str) -> None:
    """Remove a test schema and everything in it."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema name, dropped after the test."""
    postgres_or_skip()
    schema = "t_" + uuid.uuid4().hex[:16]
    yield schema
    drop_schema(schema)


@pytest.fixture
def pg_conninfo() -> str:
    """The test server's libpq URL (no schema of its own: for tests that create no tables)."""
    postgres_or_skip()
    return PG_URL


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A PostgreSQL URL whose tables live in a schema of the test's own."""
    return f"{PG_URL}?schema={pg_schema}"


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that moves only when the test says so."""
    return FrozenClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'treadle.db'}"


def make_storage(backend: str, tmp_path: Path, clock: FrozenClock | None, schema: str = "") -> Storage:
    """An unopened storage of the given backend kind."""
    if backend == "postgres":
        return open_storage(f"{PG_URL}?schema={schema}", clock=clock)
    if backend == "sqlite":
        return open_storage(f"sqlite:///{tmp_path / 'contract.db'}", clock=clock)
    if backend == "memory":
        return open_storage("memory://", clock=clock)
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Storage]:
    """Every backend, opened, with the frozen clock as its time source.

    `remote-*` is a real server on loopback (in a thread of this process, so it shares the clock)
    over SQLite or PostgreSQL, spoken to over HTTP and the WebSocket with real credentials.
    """
    backend = str(request.param)
    inner = backend.removeprefix("remote-")
    schema = ""
    if inner == "postgres":
        postgres_or_skip()
        schema = "t_" + uuid.uuid4().hex[:16]
    store = make_storage(inner, tmp_path, clock, schema)
    server = None
    try:
        if backend.startswith("remote-"):
            server, store = await remote_storage(store)
        await store.open()
        yield store
    finally:
        await store.close()
        if server is not None:
            server.stop()
        if schema:
            drop_schema(schema)


async def remote_storage(backing: Storage, namespace: str | None = None) -> tuple[Any, Storage]:
    """A live server over `backing` and a remote storage signed in to it as a client and a worker.

    With `namespace` None the server runs insecure (the contract suite crosses namespaces);
    otherwise its credentials belong to that namespace.
    """
    from live_server import LiveServer

    from treadle.core import signing
    from treadle.settings import ServerSettings

    settings = ServerSettings(insecure=namespace is None)
    key, secret = signing.new_api_key(), signing.new_worker_secret()
    if namespace is not None:
        await backing.open()
        await backing.add_credential("client", "contract-client", namespace,  # type: ignore[attr-defined]
                                     key_hash=signing.hash_key(key))
        await backing.add_credential("worker", "contract-worker", namespace, secret=secret)  # type: ignore[attr-defined]
    server = LiveServer(backing, settings).start()
    remote = open_storage(server.url, api_key=key, worker_id="contract-worker", worker_token=secret)
    return server, remote


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for child processes: they can import the test task modules."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "support"), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env
