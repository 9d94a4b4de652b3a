"""duroxide-python's README examples, run as a user runs them (`python -m examples.duroxide.<name>`).

Each README version runs on its README provider (an in-memory SQLite) and on PostgreSQL through
`$DUROXIDE_URL`; each treadle version on a SQLite file and on PostgreSQL through `$TREADLE_URL`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def second_pg_url(pg_url: str, pg_schema: str) -> Iterator[str]:
    """Another schema beside `pg_url`'s, so that treadle's versions do not meet the README's instances."""
    schema = f"{pg_schema}_t"
    yield pg_url.replace(f"schema={pg_schema}", f"schema={schema}")
    with psycopg.connect(pg_url.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the examples at a backend, one database (or schema) for each flavour."""
    if request.param == "postgres":
        return {"DUROXIDE_URL": str(request.getfixturevalue("pg_url")),
                "TREADLE_URL": str(request.getfixturevalue("second_pg_url"))}
    return {"TREADLE_URL": f"sqlite:///{tmp_path / 'examples.db'}"}


def run(module: str, env: dict[str, str], subprocess_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one example to its end and return what it printed."""
    environment = {k: v for k, v in subprocess_env.items() if k not in ("DUROXIDE_URL", "TREADLE_URL")}
    out = subprocess.run([sys.executable, "-m", f"examples.duroxide.{module}"], cwd=ROOT, env=environment | env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def test_quick_start(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    assert run("quickstart", backend, subprocess_env).stdout.splitlines() == ["Hello, World!"]
    assert run("quickstart_treadle", backend, subprocess_env).stdout.splitlines() == ["Hello, World!"]


def test_my_workflow_runs_every_kind_of_step(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    assert run("orchestrations", backend, subprocess_env).stdout.splitlines() == [
        "Completed processing complete",
        "{'result': {'worked_on': 42}, 'winner': {'index': 0, 'value': 'fast'}}",
    ]
    assert run("orchestrations_treadle", backend, subprocess_env).stdout.splitlines() == [
        "completed {'step': 'processing complete'}",
        "{'result': {'worked_on': 42}, 'fan_in': ['A1', 'B2'], 'approval': {'approved_by': 'ada'}, "
        "'sub': {'worked_on': 42}, 'winner': 0, 'msg': 'hello'}",
    ]


def test_send_email_activity_traces(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    out = run("activities", backend, subprocess_env)
    assert out.stdout.splitlines() == ["{'sent': True}"]
    assert "INFO SendEmail: Sending email to ada@example.com" in out.stderr.splitlines()
    out = run("activities_treadle", backend, subprocess_env)
    assert out.stdout.splitlines() == ["{'sent': True}"]
    assert "Sending email to ada@example.com (attempt 1)" in out.stderr


def test_progress_workflow_custom_status(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    assert run("custom_status", backend, subprocess_env).stdout.splitlines() == [
        "step 1: validating",
        "1",
        "Completed {'processed': 3} None",
    ]
    assert run("custom_status_treadle", backend, subprocess_env).stdout.splitlines() == [
        "{'step': 1, 'doing': 'validating'} 1",
        "completed {'processed': 3} None",
    ]


def test_chat_bot_event_queue(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    replies = [
        "{'state': 'replied', 'response': 'Echo: Hello!', 'seq': 1}",
        "{'state': 'replied', 'response': 'Echo: Bye!', 'seq': 2}",
    ]
    assert run("event_queues", backend, subprocess_env).stdout.splitlines() == [*replies, "Completed Done after 2 msgs"]
    assert run("event_queues_treadle", backend, subprocess_env).stdout.splitlines() == [
        *replies, "completed Done after 2 msgs"]


def test_admin_apis(backend: dict[str, str], subprocess_env: dict[str, str]) -> None:
    lines = run("admin", backend, subprocess_env).stdout.splitlines()
    assert lines[0] == "instance-1: 3"
    assert lines[-4:] == [
        "metrics: 5 5 queued: 0",
        "instances: 5 info: Counter Completed 4",
        "tree: 5 executions: [1, 2, 3, 4]",
        "after cleanup: NotFound",
    ]
    events = [line.split(" ", 1) for line in lines[1:-4]]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "OrchestrationStarted"
    assert kinds[-1] == "OrchestrationContinuedAsNew"
    assert {"SubOrchestrationScheduled", "SubOrchestrationCompleted"} <= set(kinds)
    assert json.loads(events[0][1])["input"] == 0
    assert json.loads(events[-1][1]) == {"input": 1}

    lines = run("admin_treadle", backend, subprocess_env).stdout.splitlines()
    assert lines[0] == "instance-1: 3"
    assert lines[-3:] == [
        "metrics: {'completed': 5} instances: 5 info: Counter completed 4",
        "tree children: 4 executions: [1, 2, 3, 4] pruned events: True",
        "kept: [3, 4]",
    ]


def test_postgres_provider_with_a_custom_schema(pg_url: str, pg_schema: str, second_pg_url: str,
                                                subprocess_env: dict[str, str]) -> None:
    database = pg_url.split("?", 1)[0]
    env = {"DUROXIDE_PG_URL": database, "DUROXIDE_PG_SCHEMA": pg_schema}
    assert run("postgres", env, subprocess_env).stdout.splitlines() == ["Completed Hello, PostgreSQL!"]
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                           [pg_schema]).fetchone()
    assert row is not None and row[0] > 0
    assert run("postgres_treadle", {"TREADLE_URL": second_pg_url}, subprocess_env).stdout.splitlines() == [
        "completed Hello, PostgreSQL!"]
