"""Azolla's README examples on treadle (`examples/azolla/readme_*.py`, only their imports changed) and
treadle's own versions beside them (`treadle_*.py`), run the way a user runs them: as scripts against a
real treadle server over SQLite or PostgreSQL, with real workers and the `azolla-worker` command."""

from __future__ import annotations

import ast
import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer

from treadle import AsyncClient, TaskStatus
from treadle.core import signing
from treadle.settings import ServerSettings
from treadle.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
AZOLLA_WORKER = str(Path(sys.executable).with_name("azolla-worker"))
SENT = {"message_id": "msg_123", "sent_to": "user@example.com", "status": "delivered"}


@dataclass
class Server:
    """A live treadle server and the environment a user's process gets to reach it."""

    url: str
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)


def start_server(backing_url: str, env: dict[str, str], *, secure: bool = False) -> tuple[LiveServer, Server]:
    store = open_storage(backing_url)
    extra: dict[str, str] = {}
    if secure:
        key, secret = signing.new_api_key(), signing.new_worker_secret()

        async def add_credentials() -> None:
            await store.open()
            await store.add_credential("client", "app", "default", key_hash=signing.hash_key(key))  # type: ignore[attr-defined]
            await store.add_credential("worker", "shepherd-1", "default", secret=secret)  # type: ignore[attr-defined]
            await store.close()

        asyncio.run(add_credentials())
        extra = {"TREADLE_API_KEY": key, "TREADLE_WORKER_ID": "shepherd-1", "TREADLE_WORKER_TOKEN": secret}
    live = LiveServer(store, ServerSettings(insecure=not secure)).start()
    return live, Server(live.url, dict(env, TREADLE_URL=live.url, **extra), extra)


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Server]:
    """A treadle server (no credentials needed) over SQLite or PostgreSQL; $TREADLE_URL points at it."""
    backing = request.getfixturevalue("pg_url") if request.param == "postgres" else f"sqlite:///{tmp_path / 's.db'}"
    live, server = start_server(backing, subprocess_env)
    try:
        yield server
    finally:
        live.stop()


@pytest.fixture
def secure_server(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Server]:
    """A treadle server that requires credentials: a client API key and a worker id and secret, in the environment."""
    live, server = start_server(f"sqlite:///{tmp_path / 'secure.db'}", subprocess_env, secure=True)
    try:
        yield server
    finally:
        live.stop()


@pytest.fixture
def worker(server: Server) -> Iterator[subprocess.Popen[str]]:
    """`treadle worker` for the README's tasks and treadle's, on the server."""
    proc = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--tasks", "examples.azolla.readme_tasks",
                             "--tasks", "examples.azolla.treadle_tasks"], cwd=ROOT, env=server.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    yield proc
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def example(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m examples.azolla.<module>`, which must succeed."""
    out = run([sys.executable, "-m", f"examples.azolla.{module}"], env)
    assert out.returncode == 0, out.stderr
    return out


def python(code: str, env: dict[str, str]) -> str:
    out = run([sys.executable, "-c", code], env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def printed(line: str, prefix: str) -> Any:
    """The value printed after `prefix` (PostgreSQL's jsonb does not keep the order of keys)."""
    assert line.startswith(prefix), line
    return ast.literal_eval(line.removeprefix(prefix))


def test_both_clients_submit_and_print_the_sent_email(server: Server, worker: subprocess.Popen[str]) -> None:
    for module in ("readme_client", "treadle_client"):
        [line] = example(module, server.env).stdout.splitlines()
        assert printed(line, "✅ Email sent: ") == SENT


def test_the_cli_worker_runs_one_task_with_the_readme_flags(server: Server) -> None:
    # no other worker runs: only the azolla-worker the example spawns can run the task
    worker_said, client_saw = example("readme_cli_worker", server.env).stdout.splitlines()
    assert json.loads(worker_said.removeprefix("azolla-worker exited 0: ")) == SENT
    assert printed(client_saw, "send_email succeeded after 1 attempt(s): ") == SENT


def test_the_cli_worker_signs_in_with_worker_credentials(secure_server: Server) -> None:
    _, client_saw = example("readme_cli_worker", secure_server.env).stdout.splitlines()
    assert printed(client_saw, "send_email succeeded after 1 attempt(s): ") == SENT

    async def who_ran_it() -> list[str | None]:
        async with AsyncClient(secure_server.url, api_key=secure_server.keys["TREADLE_API_KEY"]) as client:
            return [t.worker_id for t in await client.list()]

    assert asyncio.run(who_ran_it()) == ["shepherd-1"]


def test_treadles_long_lived_cli_worker_runs_the_task(server: Server) -> None:
    client_saw, worker_exit = example("treadle_cli_worker", server.env).stdout.splitlines()
    assert (printed(client_saw, "succeeded after 1 attempt(s): "), worker_exit) == (SENT, "treadle worker exited 0")


def test_treadles_worker_example_serves_tasks_until_sigterm(server: Server) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "examples.azolla.treadle_invocation"], cwd=ROOT, env=server.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    async def greet() -> Any:
        async with AsyncClient(server.url) as client:
            return (await (await client.submit_task("greet.user", ["Alice", "fr"]).submit()).wait(timeout=30)).value

    try:
        assert asyncio.run(greet()) == "Bonjour, Alice!"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_the_in_process_examples_print_their_values(subprocess_env: dict[str, str]) -> None:
    assert example("readme_worker", subprocess_env).stdout == f"{SENT}\n"
    assert example("treadle_worker", subprocess_env).stdout == f"{SENT}\n"
    assert example("readme_invocation", subprocess_env).stdout == "Bonjour, Alice!\n"


def test_the_retry_examples_build_the_same_policies(subprocess_env: dict[str, str]) -> None:
    assert example("readme_retry", subprocess_env).stdout == ""
    same = python("from examples.azolla import readme_retry as r, treadle_retry as t\n"
                  "print(r.exponential_retry == t.exponential_retry, r.linear_retry == t.linear_retry)\n"
                  "print(r.exponential_retry.to_dict())", subprocess_env).splitlines()
    assert same[0] == "True True"
    assert same[1] == str({"max_attempts": 5, "backoff": {"kind": "exponential", "initial": 1.0, "multiplier": 2.0,
                                                          "max_delay": 60.0, "jitter": True},
                           "retry_on": ["builtins.ConnectionError", "treadle.errors.TaskTimeoutError"],
                           "stop_on_codes": ["INVALID_EMAIL"]})
    assert example("treadle_retry", subprocess_env).stdout.splitlines() == [
        "exponential ['0.82s', '1.30s', '4.60s', '4.58s', 'give up']", "linear ['2.00s', '3.00s', 'give up']"]


ERROR_CASES: list[tuple[str, dict[str, Any], str, str, dict[str, Any]]] = [
    # task, arguments, fault, what azolla-worker says, what is stored
    ("validate_data", {"data": {}}, "", "TaskValidationError: Email is required",
     {"status": "failed", "error_code": None, "retryable": False}),
    ("validate_data", {"data": {"email": "a@b.c"}}, "service_down",
     "ServiceUnavailable: External service unavailable (it runs again in 1s)",
     {"status": "pending", "error_code": "SERVICE_DOWN", "retryable": True}),
    ("validate_data", {"data": {"email": "a@b.c"}}, "too_slow",
     "TaskTimeoutError: Data processing took too long (it runs again in 1s)",
     {"status": "pending", "error_code": None, "retryable": True}),
    ("risky_operation", {}, "invalid_input", "ValueError: Invalid input data (it runs again in 1s)",
     {"status": "pending", "error_code": None, "retryable": True}),
    ("risky_operation", {}, "network", "ConnectionError: Network unavailable (it runs again in 1s)",
     {"status": "pending", "error_code": None, "retryable": True}),
    ("risky_operation", {}, "business_rule", "TaskError: Business rule violation",
     {"status": "failed", "error_code": None, "retryable": False}),
    ("query_database", {}, "db_timeout", "DatabaseError: Database connection timeout (it runs again in 1s)",
     {"status": "pending", "error_code": "DATABASE_ERROR", "retryable": True,
      "details": {"database": "users_db", "retry_count": 3}}),
]


async def submit(url: str, name: str, args: dict[str, Any]) -> str:
    async with AsyncClient(url) as client:
        return (await client.submit_task(name, args).submit()).id


async def stored(url: str, task_id: str) -> dict[str, Any]:
    async with AsyncClient(url) as client:
        info = await client.get(task_id)
    error = info.error
    return {"status": info.status.value, "attempts": info.attempts, "result": info.result,
            "error_code": error.error_code if error else None, "retryable": error.retryable if error else None,
            "details": error.details if error else None}


def test_the_error_examples_record_what_the_readme_promises(server: Server) -> None:
    for name, args, fault, said, expected in ERROR_CASES:
        task_id = asyncio.run(submit(server.url, name, args))
        out = run([AZOLLA_WORKER, "--task-id", task_id, "--name", name, "--shepherd-endpoint", server.url,
                   "--task-modules", "examples.azolla.readme_errors"], dict(server.env, AZOLLA_EXAMPLE_FAULT=fault))
        assert (out.returncode, out.stdout, out.stderr) == (1, "", f"error: task {task_id} failed: {said}\n"), name
        assert asyncio.run(stored(server.url, task_id)) == {"attempts": 1, "result": None, "details": {}} | expected
    # and without a fault the task succeeds
    task_id = asyncio.run(submit(server.url, "validate_data", {"data": {"email": "a@b.c"}}))
    out = run([AZOLLA_WORKER, "--task-id", task_id, "--name", "validate_data", "--shepherd-endpoint", server.url,
               "--task-modules", "examples.azolla.readme_errors"], server.env)
    assert (out.returncode, json.loads(out.stdout)) == (0, {"status": "valid", "data": {"email": "a@b.c"}})
    assert asyncio.run(stored(server.url, task_id))["status"] == TaskStatus.SUCCEEDED.value


def test_treadles_error_example_prints_what_is_stored(subprocess_env: dict[str, str]) -> None:
    assert example("treadle_errors", subprocess_env).stdout.splitlines() == [
        "TaskValidationError code=None retryable=False {}: Email is required",
        "ServiceUnavailable code=SERVICE_DOWN retryable=True {}: External service unavailable",
        "TaskTimeoutError code=None retryable=True {}: Data processing took too long",
        "ValueError code=None retryable=True {}: Invalid input data",
        "TaskError code=None retryable=False {}: Business rule violation",
        "DatabaseError code=DATABASE_ERROR retryable=True {'database': 'users_db', 'retry_count': 3}: "
        "Database connection timeout",
        "{'status': 'valid', 'data': {'email': 'a@b.c'}}",
    ]


def test_the_monitoring_examples_configure_logging(subprocess_env: dict[str, str]) -> None:
    assert example("readme_monitoring", subprocess_env).stdout == ""
    assert python("import logging\nimport examples.azolla.readme_monitoring\n"
                  "print(logging.getLevelName(logging.getLogger().level))", subprocess_env) == "INFO\n"
    out = example("treadle_monitoring", subprocess_env)
    assert out.stderr == ("INFO treadle.engine.worker: worker w-1 started "
                          "{'event': 'worker_started', 'worker_id': 'w-1'}\n")


def test_the_configuration_examples_make_clients_for_the_production_domain(server: Server) -> None:
    example("readme_config", server.env)
    example("treadle_config", server.env)
    code = ("import asyncio\nfrom examples.azolla.readme_config import client\n"
            "from examples.azolla.readme_tasks import greet_user\n"
            "print(client.namespace, client.storage.request_timeout, client.storage.max_message_bytes)\n"
            "async def main():\n"
            "    async with client:\n"
            "        print((await client.submit_task(greet_user, ['Ada']).submit()).id)\n"
            "asyncio.run(main())\n")
    first, task_id = python(code, server.env).splitlines()
    assert first == f"production 60.0 {16 * 1024 * 1024}"
    # the task is in the production namespace, where an azolla-worker for that domain runs it
    out = run([AZOLLA_WORKER, "--task-id", task_id, "--name", "greet_user", "--shepherd-endpoint", server.url,
               "--domain", "production", "--task-modules", "examples.azolla.readme_tasks"], server.env)
    assert (out.returncode, out.stdout) == (0, '"Hello, Ada!"\n'), out.stderr
    assert python("from examples.azolla.treadle_config import client\nprint(client.namespace)",
                  server.env) == "production\n"


def test_the_testing_examples_pass_under_pytest(subprocess_env: dict[str, str]) -> None:
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/azolla/readme_testing.py",
               "examples/azolla/treadle_testing.py"], subprocess_env)
    assert out.returncode == 0, out.stdout
    assert "3 passed" in out.stdout.splitlines()[-1]


@pytest.fixture
def sqlite_env(tmp_path: Path, subprocess_env: dict[str, str]) -> dict[str, str]:
    return dict(subprocess_env, TREADLE_URL=f"sqlite:///{tmp_path / 'cli.db'}")


def azolla_worker(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return run([AZOLLA_WORKER, *flags], env, timeout=60)


def test_wrong_flags_get_one_line_and_exit_2(sqlite_env: dict[str, str]) -> None:
    flags = ["--task-id", "t", "--name", "n", "--shepherd-endpoint", sqlite_env["TREADLE_URL"]]
    none = azolla_worker(sqlite_env)
    assert (none.returncode, none.stderr) == (2, "error: the following arguments are required: --task-id, --name, "
                                                 "--shepherd-endpoint (see azolla-worker --help)\n")
    bogus = azolla_worker(sqlite_env, *flags, "--bogus")
    assert (bogus.returncode, bogus.stderr) == (2, "error: unrecognized arguments: --bogus "
                                                   "(see azolla-worker --help)\n")
    level = azolla_worker(sqlite_env, *flags, "--log-level", "LOUD")
    assert level.returncode == 2 and level.stderr.startswith("error: argument --log-level: invalid choice: 'LOUD'")


@pytest.mark.parametrize(("flags", "message"), [
    (["--name", "nope", "--task-modules", "examples.azolla.readme_tasks"],
     "no task named 'nope' is registered with this worker (registered: SendEmailTask, greet_user, send_email)"),
    (["--name", "send_email", "--task-modules", "no_such_module"],
     "cannot import task module 'no_such_module': No module named 'no_such_module'"),
    (["--name", "send_email", "--task-modules", "examples.azolla.readme_helpers"],
     "module examples.azolla.readme_helpers defines no tasks"),
    (["--name", "send_email", "--task-modules", "examples.azolla.readme_tasks", "--args", "[1,"],
     "invalid args JSON: invalid JSON: unexpected end of data: line 1 column 4 (char 3)"),
    (["--name", "send_email", "--task-modules", "examples.azolla.readme_tasks", "--kwargs", "[]"],
     "kwargs JSON must encode an object, got '[]'"),
    (["--name", "send_email", "--task-modules", "examples.azolla.readme_tasks"],
     "no task with id 'nope' in namespace 'default'"),
])
def test_bad_input_gets_one_line_and_exit_1(sqlite_env: dict[str, str], flags: list[str], message: str) -> None:
    out = azolla_worker(sqlite_env, "--task-id", "nope", "--shepherd-endpoint", sqlite_env["TREADLE_URL"], *flags)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", f"error: {message}\n")


def test_a_task_that_already_ran_is_not_run_again(sqlite_env: dict[str, str]) -> None:
    url = sqlite_env["TREADLE_URL"]
    task_id = asyncio.run(submit(url, "send_email", {"to": "a@b.c", "subject": "Hi", "body": "-"}))
    flags = ["--task-id", task_id, "--name", "send_email", "--shepherd-endpoint", url,
             "--task-modules", "examples.azolla.readme_tasks"]
    first = azolla_worker(sqlite_env, *flags)
    assert (first.returncode, json.loads(first.stdout)["sent_to"]) == (0, "a@b.c"), first.stderr
    again = azolla_worker(sqlite_env, *flags)
    assert (again.returncode, again.stderr) == (
        1, f"error: task '{task_id}' is succeeded, not pending: there is nothing to run\n")
