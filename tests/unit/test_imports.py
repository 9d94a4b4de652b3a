"""What a worker loads at start: each import costs start-up time, which every drain pays once per process."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import treadle, treadle.cli.app, treadle.storage.postgres

@treadle.task
def add(a: int, b: int) -> int:
    return a + b

assert add.definition.validate([1], {"b": 2}) == ([], {"a": 1, "b": 2})
print(",".join(m for m in ("pydantic", "rich", "treadle.storage.sqlite", "sqlite3") if m in sys.modules))
"""


def test_a_postgres_worker_with_plain_arguments_loads_neither_pydantic_rich_nor_sqlite() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == ""


def test_pydantic_is_loaded_once_an_argument_needs_it() -> None:
    probe = PROBE.replace("validate([1]", 'validate(["1"]')       # a string for an int: converted

    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == "pydantic"
