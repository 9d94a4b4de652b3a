"""The DistWorker README's examples (examples/distworker), run as a user runs them, on a real treadle server.

Each example is a real process started with `python -m examples.distworker.<name>`; it signs in
to a server on loopback (authentication on, over a SQLite file) with a credential made by
`treadle auth add-worker`, and tasks are submitted with treadle's `Client`. Workers run until
interrupted, so each test ends by sending SIGINT and checking how the process ended.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer

from treadle import Client, FixedBackoff, RetryPolicy, TaskResult, TaskStatus
from treadle.settings import ServerSettings
from treadle.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
ONCE = RetryPolicy(max_attempts=1)
TWICE = RetryPolicy(max_attempts=2, backoff=FixedBackoff(0))
ASYNCIO_ACCIDENTS = ("Task was destroyed", "never retrieved", "Exception in callback", "ERROR")


@dataclass
class Controller:
    """A treadle server on loopback, its database, and a client signed in to it."""

    server: LiveServer
    db_url: str
    env: dict[str, str]
    client: Client
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        """The worker endpoint in the README's form (ws://localhost:8080/ws), on the server's port."""
        return f"ws://localhost:{self.server.port}/ws"

    def add_worker(self, worker_id: str) -> str:
        """A worker credential, made the way a user makes one: `treadle auth add-worker` prints its secret."""
        return treadle_cli(self.env, "auth", "add-worker", worker_id, "--db", self.db_url)

    def start(self, example: str, **env: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", f"examples.distworker.{example}"], cwd=ROOT,
                                env=self.env | env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def wait_connected(self, proc: subprocess.Popen[str], worker_id: str) -> None:
        """Wait until the server lists the worker (or the process died, which fails the test with its stderr)."""
        deadline = time.monotonic() + 30
        while worker_id not in [w["worker_id"] for w in self.client.workers()]:
            if proc.poll() is not None:
                raise AssertionError(f"the example exited with {proc.returncode}: {proc.communicate()[1]}")
            assert time.monotonic() < deadline, f"worker {worker_id} never connected"
            time.sleep(0.05)

    def interrupt(self, proc: subprocess.Popen[str], worker_id: str) -> tuple[str, str]:
        """Send SIGINT, wait for the process to end, check it left the server; returns its stdout and stderr."""
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 20
        while worker_id in [w["worker_id"] for w in self.client.workers()]:
            assert time.monotonic() < deadline, f"worker {worker_id} is still listed after it exited"
            time.sleep(0.05)
        return out, err

    def run(self, name: str, args: Any, *, policy: RetryPolicy | None = None, **metadata: Any) -> TaskResult:
        builder = self.client.submit_task(name, args).metadata(metadata)
        if policy is not None:
            builder = builder.retry_policy(policy)
        return builder.submit().wait(timeout=30)


def treadle_cli(env: dict[str, str], *args: str) -> str:
    """Run the `treadle` command and return what it printed."""
    out = subprocess.run([sys.executable, "-m", "treadle", *args], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def controller(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Controller]:
    db_url = f"sqlite:///{tmp_path / 'controller.db'}"
    env = {k: v for k, v in subprocess_env.items() if not k.startswith(("TREADLE_", "DISTWORKER_"))}
    server = LiveServer(open_storage(db_url), ServerSettings()).start()
    client = Client(server.url, api_key=treadle_cli(env, "auth", "add-client", "tests", "--db", db_url))
    controller = Controller(server, db_url, env, client)
    try:
        yield controller
    finally:
        for proc in controller.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        client.close()
        server.stop()


def distworker_env(controller: Controller, worker_id: str, token: str) -> dict[str, str]:
    return {"DISTWORKER_CONTROLLER_URL": controller.ws_url, "DISTWORKER_WORKER_ID": worker_id,
            "DISTWORKER_WORKER_TOKEN": token}


def treadle_env(controller: Controller, worker_id: str, token: str) -> dict[str, str]:
    return {"TREADLE_URL": controller.ws_url, "TREADLE_WORKER_ID": worker_id, "TREADLE_WORKER_TOKEN": token}


def error_of(result: TaskResult) -> tuple[str, str]:
    assert result.status is TaskStatus.FAILED and result.error is not None, result
    return result.error.error_type or "", result.error.message


def clean(stderr: str) -> None:
    for accident in ASYNCIO_ACCIDENTS:
        assert accident not in stderr, stderr


def first_progress(controller: Controller, task_id: str) -> float | None:
    """The first progress a running task shows to a client polling it."""
    deadline = time.monotonic() + 30
    while (progress := controller.client.get(task_id).progress) is None:
        assert time.monotonic() < deadline, "no progress showed"
        time.sleep(0.02)
    return progress.percent


# ---------------------------------------------------------------- the quick start

def add_readme_worker(db_url: str) -> None:
    """The README's worker id and secret (`math-worker-001`, `your-worker-token`), stored as `treadle auth` stores
    credentials: the command always prints a fresh secret, and the README hard-codes this one."""

    async def add() -> None:
        store = open_storage(db_url)
        await store.open()
        try:
            await store.add_credential("worker", "math-worker-001", "default",  # type: ignore[attr-defined]
                                       secret="your-worker-token")
        finally:
            await store.close()

    asyncio.run(add())


def test_the_readme_quick_start_runs_with_only_its_import_changed(controller: Controller) -> None:
    # Given the README's credential on the server and the quick start pointed at it
    add_readme_worker(controller.db_url)
    proc = controller.start("quickstart", DISTWORKER_CONTROLLER_URL=controller.ws_url)
    controller.wait_connected(proc, "math-worker-001")
    [listed] = controller.client.workers()
    assert listed["resource_info"] == {"cpu_cores": 4, "memory_mb": 8192}
    # When math tasks are submitted
    assert controller.run("math.add", {"operation": "add", "a": 2, "b": 3}).value == {"result": 5}
    assert controller.run("math.multiply", {"operation": "multiply", "a": 6, "b": 7}).value == {"result": 42}
    # Then an unknown operation fails with the handler's error, after the task's retries
    failed = controller.client.submit_task("math.divide", {"operation": "divide", "a": 1, "b": 0})
    handle = failed.retry_policy(TWICE).submit()
    assert error_of(handle.wait(30)) == ("ValueError", "Unknown operation: divide")
    assert handle.info().attempts == 2
    # And Ctrl-C stops the worker gracefully (it leaves the server) and then, as the README's
    # `asyncio.run(main())` does on any SDK, ends the program with KeyboardInterrupt
    _, err = controller.interrupt(proc, "math-worker-001")
    assert proc.returncode == -signal.SIGINT, err
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err
    clean(err)


def test_the_treadle_quick_start_answers_the_same_tasks_and_checks_its_input(controller: Controller) -> None:
    token = controller.add_worker("math-treadle")
    proc = controller.start("quickstart_treadle", **treadle_env(controller, "math-treadle", token))
    controller.wait_connected(proc, "math-treadle")
    assert controller.run("math.calc", {"operation": "add", "a": 2, "b": 3}).value == {"result": 5}
    assert controller.run("math.calc", {"operation": "multiply", "a": 6, "b": 7}).value == {"result": 42}
    # an unknown operation is refused before the task runs, and never retried
    failed = controller.client.submit_task("math.calc", {"operation": "divide", "a": 1, "b": 0})
    handle = failed.retry_policy(TWICE).submit()
    kind, message = error_of(handle.wait(30))
    assert kind == "TaskValidationError" and "operation" in message and "'add' or 'multiply'" in message
    assert handle.info().attempts == 1
    _, err = controller.interrupt(proc, "math-treadle")
    assert proc.returncode == 0, err
    clean(err)


# ---------------------------------------------------------------- the README's task handlers

def test_the_readme_handlers_run_report_progress_fail_and_finish_before_ctrl_c(controller: Controller) -> None:
    token = controller.add_worker("handlers-1")
    proc = controller.start("handlers", **distworker_env(controller, "handlers-1", token))
    controller.wait_connected(proc, "handlers-1")
    # Basic Handler: reads input, metadata and files, returns its fixed result
    files = [{"file_id": "f1", "filename": "cat.png", "storage_url": "s3://bucket/cat.png"}]
    result = controller.run("handlers.basic", {"key": "value"}, priority="high", files=files)
    assert result.value == {"status": "completed", "result": "success"}
    # Error Handling: a ValueError passes through, any other error becomes a RuntimeError
    assert controller.run("handlers.safe", {"data": [1, 2, 3]}).value == {"result": 6}
    assert error_of(controller.run("handlers.safe", {"data": "x"}, policy=ONCE)) == (
        "ValueError", "data must be a list of numbers, got 'x'")
    assert error_of(controller.run("handlers.safe", {"data": ["a"]}, policy=ONCE)) == (
        "RuntimeError", "Processing failed: unsupported operand type(s) for +: 'int' and 'str'")
    # Progress Reporting: clients see the reports while it runs...
    handle = controller.client.submit_task("handlers.progress", {}).submit()
    assert first_progress(controller, handle.id) in (25.0, 50.0, 90.0)
    # ...and Ctrl-C in the middle lets it finish before the worker leaves
    _, err = controller.interrupt(proc, "handlers-1")
    assert proc.returncode == 0, err
    clean(err)
    info = handle.info()
    assert (info.status, info.result, info.attempts) == (TaskStatus.SUCCEEDED, {"status": "completed"}, 1)
    assert info.progress is not None
    assert (info.progress.percent, info.progress.message) == (90.0, "Almost finished")


def test_the_treadle_handlers_do_the_same_with_typed_tasks(controller: Controller) -> None:
    token = controller.add_worker("handlers-treadle")
    proc = controller.start("handlers_treadle", **treadle_env(controller, "handlers-treadle", token))
    controller.wait_connected(proc, "handlers-treadle")
    files = [{"file_id": "f1", "filename": "cat.png", "storage_url": "s3://bucket/cat.png"}]
    result = controller.run("handlers.basic", {"key": "value"}, priority="high", files=files)
    assert result.value == {"status": "completed", "result": "success", "priority": "high", "files": "cat.png"}
    assert controller.run("handlers.safe", {"data": [1, 2, 3]}).value == {"result": 6}
    handle = controller.client.submit_task("handlers.safe", {"data": "x"}).retry_policy(TWICE).submit()
    assert error_of(handle.wait(30))[0] == "TaskValidationError"
    assert handle.info().attempts == 1
    progress = controller.client.submit_task("handlers.progress", {}).submit()
    assert first_progress(controller, progress.id) in (25.0, 50.0, 90.0)
    _, err = controller.interrupt(proc, "handlers-treadle")
    assert proc.returncode == 0, err
    info = progress.info()
    assert (info.status, info.result) == (TaskStatus.SUCCEEDED, {"status": "completed"})


# ---------------------------------------------------------------- python -m distworker.examples.*

def test_the_basic_worker_does_math_text_and_data_configured_by_environment(controller: Controller) -> None:
    token = controller.add_worker("basic-1")
    proc = controller.start("basic_worker", **distworker_env(controller, "basic-1", token))
    controller.wait_connected(proc, "basic-1")
    assert controller.run("math.add", {"a": 2, "b": 3}).value == {"result": 5}
    assert controller.run("math.power", {"a": 2, "b": 10}).value == {"result": 1024}
    assert controller.run("text.upper", {"text": "hello"}).value == {"result": "HELLO"}
    assert controller.run("text.word_count", {"text": "one two three"}).value == {"result": 3}
    assert controller.run("data.sort", {"items": [3, 1, 2], "descending": True}).value == {"result": [3, 2, 1]}
    assert controller.run("data.stats", {"items": [1, 2, 6]}).value == {
        "result": {"count": 3, "min": 1, "max": 6, "mean": 3.0}}
    # wrong input fails with the handler's message
    assert error_of(controller.run("math.divide", {"a": 1, "b": 0}, policy=ONCE)) == ("ValueError", "division by zero")
    assert error_of(controller.run("math.modulo", {"a": 1, "b": 2}, policy=ONCE)) == (
        "ValueError", "Unknown operation: modulo (known: add, divide, multiply, power, subtract)")
    assert error_of(controller.run("text.upper", {"text": 7}, policy=ONCE)) == (
        "ValueError", "input 'text' must be a string, got 7")
    out, err = controller.interrupt(proc, "basic-1")
    assert proc.returncode == 0, err
    assert out.splitlines()[0] == f"worker basic-1 serving math.*, text.*, data.* at {controller.ws_url}"
    clean(err)


def test_the_file_worker_processes_the_files_listed_in_the_task_metadata(
        controller: Controller, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(b"\x89PNG not really an image")
    (tmp_path / "report.docx").write_bytes(b"quarterly numbers")
    files = [{"file_id": "f1", "filename": "cat.png", "storage_url": (tmp_path / "cat.png").as_uri()},
             {"file_id": "f2", "filename": "report.docx", "storage_url": (tmp_path / "report.docx").as_uri()}]
    folder = tmp_path.as_uri() + "/"
    token = controller.add_worker("files-1")
    proc = controller.start("file_worker", **distworker_env(controller, "files-1", token))
    controller.wait_connected(proc, "files-1")
    resized = controller.run("files.resize", {"file_id": "f1", "sizes": [64, 128]}, files=files)
    assert resized.value == {"file_id": "f1", "outputs": [
        {"filename": "cat@64.png", "storage_url": folder + "cat@64.png"},
        {"filename": "cat@128.png", "storage_url": folder + "cat@128.png"}]}
    converted = controller.run("files.convert", {"filename": "report.docx", "to": "pdf"}, files=files)
    assert converted.value == {"converted": [
        {"file_id": "f2", "filename": "report.pdf", "storage_url": folder + "report.pdf"}]}
    assert controller.run("files.checksum", {}, files=files).value == {"files": [
        {"file_id": "f1", "size": 24, "sha256": hashlib.sha256(b"\x89PNG not really an image").hexdigest()},
        {"file_id": "f2", "size": 17, "sha256": hashlib.sha256(b"quarterly numbers").hexdigest()}]}
    # wrong input: a file that is not there, a document given to resize, no files at all
    assert error_of(controller.run("files.resize", {"file_id": "f9"}, policy=ONCE, files=files)) == (
        "ValueError", "no file 'f9' in this task's files")
    assert error_of(controller.run("files.resize", {"file_id": "f2"}, policy=ONCE, files=files)) == (
        "ValueError", "report.docx is not an image (.gif, .jpeg, .jpg, .png, .webp)")
    assert error_of(controller.run("files.checksum", {}, policy=ONCE)) == (
        "ValueError", "this task has no files (metadata 'files')")
    _, err = controller.interrupt(proc, "files-1")
    assert proc.returncode == 0, err
    clean(err)


# ---------------------------------------------------------------- wrong configuration

def last_line(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    return err.strip().splitlines()[-1]


def test_an_example_with_a_wrong_token_exits_with_the_servers_reason(controller: Controller) -> None:
    controller.add_worker("basic-2")
    proc = controller.start("basic_worker", **distworker_env(controller, "basic-2", "tdw_wrong"))
    assert last_line(proc) == ("treadle.errors.AuthenticationError: the server refused the connection: "
                               "bad signature: the worker secret is wrong")


def test_an_example_with_no_controller_url_exits_saying_which_variable_to_set(controller: Controller) -> None:
    proc = controller.start("basic_worker", DISTWORKER_WORKER_ID="basic-3", DISTWORKER_WORKER_TOKEN="tdw_x")
    assert last_line(proc) == (
        "treadle.errors.ConfigurationError: a DistWorker worker needs controller_url= (or "
        "$DISTWORKER_CONTROLLER_URL); the controller is a treadle server's WebSocket, e.g. ws://localhost:52710/ws")


def test_a_task_name_no_example_handles_stays_pending_for_a_worker_that_does(controller: Controller) -> None:
    # Given the file worker, which handles files.* only
    token = controller.add_worker("files-2")
    proc = controller.start("file_worker", **distworker_env(controller, "files-2", token))
    controller.wait_connected(proc, "files-2")
    # When a math task is submitted before a file task
    orphan = controller.client.submit_task("math.add", {"a": 1, "b": 2}).submit()
    assert error_of(controller.run("files.checksum", {}, policy=ONCE))[0] == "ValueError"
    # Then the file worker never took the math task; the basic worker does
    info = orphan.info()
    assert (info.status, info.attempts) == (TaskStatus.PENDING, 0)
    basic_token = controller.add_worker("basic-4")
    basic = controller.start("basic_worker", **distworker_env(controller, "basic-4", basic_token))
    assert orphan.wait(30).value == {"result": 3}
    assert orphan.info().worker_id == "basic-4"
    for p, worker_id in ((proc, "files-2"), (basic, "basic-4")):
        _, err = controller.interrupt(p, worker_id)
        assert p.returncode == 0, err

