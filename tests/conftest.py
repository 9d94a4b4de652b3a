"""Shared fixtures: storage backends (parametrised), a frozen clock, URLs in temporary folders."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from treadle.core.clock import FrozenClock
from treadle.storage import Storage, open_storage

HERE = Path(__file__).parent
BACKENDS = ["memory", "sqlite"]


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that moves only when the test says so."""
    return FrozenClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'treadle.db'}"


def make_storage(backend: str, tmp_path: Path, clock: FrozenClock | None) -> Storage:
    """An unopened storage of the given backend kind."""
    if backend == "sqlite":
        return open_storage(f"sqlite:///{tmp_path / 'contract.db'}", clock=clock)
    if backend == "memory":
        return open_storage("memory://", clock=clock)
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Storage]:
    """Every backend, opened, with the frozen clock as its time source."""
    store = make_storage(request.param, tmp_path, clock)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for child processes: they can import the test task modules."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "support"), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env
