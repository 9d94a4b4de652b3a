"""The `treadle` command as a user runs it: real subprocesses, a real SQLite file in a temp folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_server import free_port

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Run]:
    env = {k: v for k, v in subprocess_env.items() if k != "TREADLE_URL"}

    def call(*args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "treadle", *args], cwd=tmp_path, env=env | extra_env,
                              capture_output=True, text=True, timeout=timeout)

    yield call


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr and no traceback."""
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and lines[0].startswith("error: ")
    return lines[0]


def test_submit_status_ls_cancel_retry_on_the_default_database(run: Run, tmp_path: Path) -> None:
    # Given no URL anywhere, the default ./treadle.db is used
    submitted = run("submit", "billing.invoice.v1", "--args", '{"order": 7}', "--priority", "3")
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    assert (tmp_path / "treadle.db").exists()
    # status shows it, as text and as JSON
    shown = run("status", task_id)
    assert shown.returncode == 0 and "billing.invoice.v1" in shown.stdout and "pending" in shown.stdout
    data = json.loads(run("status", task_id, "--json").stdout)
    assert (data["status"], data["kwargs"], data["priority"]) == ("pending", {"order": 7}, 3)
    # ls filters by status and name
    assert task_id in run("ls").stdout
    assert task_id in run("ls", "--status", "pending", "--name", "billing.*", "--json").stdout
    assert run("ls", "--status", "failed", "--json").stdout == ""
    # cancel, then retry re-drives it
    assert run("cancel", task_id).stdout.strip() == f"{task_id} cancelled"
    assert run("retry", task_id).stdout.strip() == f"{task_id} pending"


def test_url_from_environment_and_db_alias(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    task_id = run("submit", "x.y", TREADLE_URL=url).stdout.strip()
    assert task_id in run("ls", "--db", url).stdout
    assert run("status", task_id).returncode != 0          # not in ./treadle.db
    assert run("status", task_id, TREADLE_URL=url).returncode == 0


def test_submit_wait_with_a_worker_prints_the_result(run: Run, tmp_path: Path,
                                                     subprocess_env: dict[str, str]) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--tasks", "e2e_tasks"], cwd=tmp_path,
                              env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ok = run("submit", "e2e.record", "--args", "[41]", "--wait", "--timeout", "30")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "41"
        bad = run("submit", "e2e.record", "--args", '{"i": "nope"}', "--wait", "--timeout", "30")
        line = one_error_line(bad)
        assert "failed" in line and "TaskValidationError" in line
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0
    assert "worker" in stderr and "started" in stderr


def test_wait_timeout_exits_with_its_own_status(run: Run) -> None:
    proc = run("submit", "nobody.runs.this", "--wait", "--timeout", "0.2")
    assert "still pending after 0.2s" in one_error_line(proc)
    assert proc.returncode == 3


@pytest.mark.parametrize(("args", "message"), [
    (["submit", "x", "--args", "{not json"], "--args is not valid JSON"),
    (["submit", "x", "--metadata", "[1]"], "--metadata must be a JSON object"),
    (["submit", "bad name"], "invalid task name 'bad name'"),
    (["status", "no-such-id"], "no task with id 'no-such-id'"),
    (["cancel", "no-such-id"], "no task with id 'no-such-id'"),
    (["retry", "no-such-id"], "no task with id 'no-such-id'"),
    (["ls", "--status", "finished"], "unknown status 'finished'"),
    (["ls", "--url", "sqlite:///missing/dir/x.db"], "directory"),
    (["ls", "--url", "mysql://localhost/x"], "unsupported storage URL 'mysql://localhost/x'"),
    (["ls", "--url", "sqlite:///x.db?journal=off"], "unknown SQLite URL option(s): journal"),
    (["ls", "--url", "postgresql://postgres@127.0.0.1:1/test"],
     "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/test within 5s"),
    (["ls", "--url", "postgresql://postgres@127.0.0.1/test?schema=bad-name"], "invalid schema name 'bad-name'"),
    (["ls", "--url", "postgres://u:secret@127.0.0.1:1/test?pool_max=x"], "invalid PostgreSQL URL option in "
     "'postgres://u:***@127.0.0.1:1/test?pool_max=x'"),
    (["worker"], "name at least one task module with --tasks"),
    (["worker", "--tasks", "no_such_module_xyz"], "cannot import task module 'no_such_module_xyz'"),
    (["worker", "--tasks", "json"], "module json defines no tasks"),
    (["worker", "--tasks", "e2e_tasks", "--mode", "fork"], "--mode must be thread or process"),
    (["worker", "--tasks", "e2e_tasks", "--lease-seconds", "5", "--heartbeat-seconds", "9"],
     "heartbeat_seconds (9.0) must be shorter than lease_seconds (5.0)"),
    (["worker", "--tasks", "e2e_tasks", "--url", "http://127.0.0.1:9", "--resource-info", "[1]"],
     "--resource-info must be a JSON object"),
    (["server", "--db", "http://127.0.0.1:9"], "--db is the database the server serves"),
    (["auth", "ls", "--db", "http://127.0.0.1:9"], "credentials live in the database"),
    (["auth", "add-client", "bad name"], "invalid client name 'bad name'"),
    (["auth", "revoke", "worker", "nobody"], "no active worker named 'nobody'"),
    (["auth", "revoke", "robot", "x"], "revoke takes 'worker' or 'client', not 'robot'"),
    (["workers"], "only a treadle server (http://host:52710) lists its workers"),
    (["ls", "--url", "http://user:pw@127.0.0.1:9"], "put credentials in api_key / worker_token"),
])
def test_wrong_input_prints_one_clear_line(run: Run, args: list[str], message: str) -> None:
    assert message in one_error_line(run(*args))


def test_retry_of_a_pending_task_is_refused(run: Run) -> None:
    task_id = run("submit", "x.y").stdout.strip()
    assert f"task {task_id} is pending; only failed or cancelled tasks can be retried" in one_error_line(
        run("retry", task_id))


def test_bad_environment_setting_names_the_variable(run: Run) -> None:
    line = one_error_line(run("worker", "--tasks", "e2e_tasks", TREADLE_LEASE_SECONDS="soon"))
    assert "TREADLE_LEASE_SECONDS must be a number of seconds, got 'soon'" in line


def test_demo_runs_the_mixed_batch_to_a_table_of_outcomes(run: Run, tmp_path: Path) -> None:
    proc = run("demo", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "treadle.db").exists()
    out = proc.stdout
    for expected in ("succeeded: 11", "failed: 3", "cancelled: 1", "CARD_DECLINED", "TaskValidationError",
                     "RuntimeError", "demo.storage.upload"):
        assert expected in out, out


def test_the_same_commands_on_postgresql(run: Run, pg_url: str) -> None:
    task_id = run("submit", "billing.invoice.v1", "--args", '{"order": 9}', "--url", pg_url).stdout.strip()
    data = json.loads(run("status", task_id, "--json", "--url", pg_url).stdout)
    assert (data["status"], data["kwargs"]) == ("pending", {"order": 9})
    assert task_id in run("ls", "--status", "pending", "--url", pg_url).stdout
    assert run("cancel", task_id, "--url", pg_url).stdout.strip() == f"{task_id} cancelled"
    assert run("retry", task_id, "--url", pg_url).stdout.strip() == f"{task_id} pending"


def test_a_file_that_is_not_a_database_is_one_clear_line(run: Run, tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("these are my notes, not a database\n" * 100)
    assert "file is not a database" in one_error_line(run("ls", "--db", "notes.db"))


def test_orchestrations_from_the_command_line(run: Run, tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--tasks", "wf_tasks"], cwd=tmp_path,
                              env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = run("wf", "start", "crash.steps", "--id", "cli-1", "--input", '{"count": 2, "seconds": 0}',
                   "--wait", "--timeout", "30")
        assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr
        assert "cli-1\tcrash.steps\tcompleted" in run("wf", "ls").stdout
        assert "completed" in run("wf", "show", "cli-1").stdout
        kinds = [json.loads(line)["kind"] for line in run("wf", "history", "cli-1", "--json").stdout.splitlines()]
        assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
        assert run("wf", "start", "crash.nap", "--id", "cli-2", "--input", "60000").stdout.strip() == "cli-2"
        assert run("wf", "raise", "cli-2", "poke", "--data", '{"n": 1}').stdout.strip() == "cli-2 poke: delivered"
        assert run("wf", "cancel", "cli-2").stdout.strip() == "cli-2 terminated"
        assert "has ended; the event was not delivered" in one_error_line(run("wf", "raise", "cli-2", "poke"))
        assert run("wf", "delete", "cli-2").stdout.strip() == "cli-2 deleted"
        assert "no orchestration instance 'cli-2'" in one_error_line(run("wf", "show", "cli-2"))
        assert "--input is not valid JSON" in one_error_line(run("wf", "start", "x", "--input", "{bad"))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def test_auth_creates_lists_and_revokes_credentials(run: Run) -> None:
    key = run("auth", "add-client", "billing-api", "--namespace", "billing")
    secret = run("auth", "add-worker", "billing-w1", "--namespace", "billing")
    assert key.returncode == 0 and key.stdout.startswith("tdk_") and len(key.stdout.strip()) > 40
    assert secret.returncode == 0 and secret.stdout.startswith("tdw_")
    assert "exists already" in one_error_line(run("auth", "add-worker", "billing-w1"))
    listed = run("auth", "ls").stdout
    assert "billing-api" in listed and "billing-w1" in listed and "active" in listed
    assert key.stdout.strip() not in listed and secret.stdout.strip() not in listed
    assert run("auth", "revoke", "worker", "billing-w1").stdout.strip() == "revoked worker billing-w1"
    assert "revoked" in next(line for line in run("auth", "ls").stdout.splitlines() if "billing-w1" in line)


def test_submit_through_a_server_to_a_remote_worker(run: Run, tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    # Given a server with credentials, and a worker signed in over its WebSocket
    key = run("auth", "add-client", "cli", "--namespace", "ops").stdout.strip()
    secret = run("auth", "add-worker", "w1", "--namespace", "ops").stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in subprocess_env.items() if k != "TREADLE_URL"}
    server = subprocess.Popen([sys.executable, "-m", "treadle", "server", "--port", str(port), "--log-level",
                               "warning"], cwd=tmp_path, env=env)
    worker = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--url", url, "--worker-id", "w1",
                               "--namespace", "ops", "--tasks", "e2e_tasks", "--reconnect-interval", "0.1"],
                              cwd=tmp_path, env=env | {"TREADLE_WORKER_TOKEN": secret})
    try:
        # When a task is submitted through the server with the client's key
        done = run("submit", "e2e.record", "--args", '{"i": 41}', "--wait", "--timeout", "60", "--url", url,
                   "--namespace", "ops", TREADLE_API_KEY=key)
        # Then its result comes back; without a key, or in another namespace, the server refuses
        assert (done.returncode, done.stdout.strip()) == (0, "41"), done.stderr
        assert "missing credentials" in one_error_line(run("ls", "--url", url, "--namespace", "ops"))
        assert "no namespace 'default'" in one_error_line(run("ls", "--url", url, TREADLE_API_KEY=key))
        listed = run("workers", "--url", url, "--namespace", "ops", TREADLE_API_KEY=key)
        assert "w1" in listed.stdout and "127.0.0.1" in listed.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        server.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        server.wait(30)
