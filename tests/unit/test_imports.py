"""What a worker loads at start: each import costs start-up time, which every drain pays once per process."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys

import pytest
import treadle, treadle.cli.app, treadle.storage.postgres

@treadle.task
def add(a: int, b: int) -> int:
    return a + b

assert add.definition.validate([1], {"b": 2}) == ([], {"a": 1, "b": 2})
print(",".join(m for m in ("pydantic", "rich", "treadle.storage.sqlite", "sqlite3", "treadle.client",
                           "treadle.local.runners", "treadle.server", "multiprocessing") if m in sys.modules))
"""


def test_a_postgres_worker_with_plain_arguments_loads_only_what_it_runs() -> None:
    # Not Pydantic, rich or SQLite; not the client, the local runners, the server or multiprocessing.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == ""


def test_pydantic_is_loaded_once_an_argument_needs_it() -> None:
    probe = PROBE.replace("validate([1]", 'validate(["1"]')       # a string for an int: converted

    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == "pydantic"


def test_every_public_name_resolves_and_an_unknown_one_is_an_attribute_error() -> None:
    import treadle

    resolved = {name: getattr(treadle, name) for name in treadle.__all__}

    assert resolved["Client"].__module__ == "treadle.client"
    assert resolved["task"].__module__ == "treadle.core.task"
    assert set(treadle.__all__) <= set(dir(treadle)) and "__version__" in dir(treadle)
    with pytest.raises(AttributeError, match="module 'treadle' has no attribute 'Clinet'"):
        _ = treadle.Clinet  # type: ignore[attr-defined]
