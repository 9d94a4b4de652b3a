"""The DistWorker facade (`treadle.compat.distworker`) against a real treadle server on loopback.

The server runs over a SQLite file with authentication on; workers sign in with credentials
stored the way `treadle auth add-worker` stores them, and tasks are submitted with treadle's
own `AsyncClient`. The facade's workers run in the test's event loop (signals left alone).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from live_server import LiveServer, free_port

from treadle import (
    AsyncClient,
    AuthenticationError,
    ConfigurationError,
    ConnectionLostError,
    FixedBackoff,
    RetryPolicy,
    TaskStatus,
    TreadleError,
)
from treadle.compat.distworker import Task, Worker
from treadle.compat.distworker.config import resolve, server_url
from treadle.core import signing
from treadle.settings import ServerSettings
from treadle.storage import open_storage

ONCE = RetryPolicy(max_attempts=1)
TWICE = RetryPolicy(max_attempts=2, backoff=FixedBackoff(0))


@dataclass
class Controller:
    """A treadle server with a client key and worker secrets for namespace `default`."""

    server: LiveServer
    store: Any
    api_key: str
    secrets: dict[str, str]

    @property
    def ws_url(self) -> str:
        """The server's worker endpoint, written the way the DistWorker README writes its controller URL."""
        return f"ws://localhost:{self.server.port}/ws"

    def worker(self, worker_id: str = "dw-1", **options: Any) -> Worker:
        options.setdefault("heartbeat_interval", 1.0)
        return Worker(self.ws_url, worker_id, self.secrets[worker_id], handle_signals=False, **options)

    def client(self) -> AsyncClient:
        return AsyncClient(self.server.url, api_key=self.api_key)


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[Controller]:
    store = open_storage(f"sqlite:///{tmp_path / 'controller.db'}")
    await store.open()
    key = signing.new_api_key()
    secrets = {w: signing.new_worker_secret() for w in ("dw-1", "dw-2")}
    await store.add_credential("client", "tests", "default", key_hash=signing.hash_key(key))  # type: ignore[attr-defined]
    for worker_id, secret in secrets.items():
        await store.add_credential("worker", worker_id, "default", secret=secret)  # type: ignore[attr-defined]
    server = LiveServer(store, ServerSettings()).start()
    try:
        yield Controller(server, store, key, secrets)
    finally:
        server.stop()


@pytest.fixture
async def started(controller: Controller) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    """Start facade workers; each is stopped at the end of the test."""
    workers: list[Worker] = []

    async def start(worker: Worker) -> Worker:
        await worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        await asyncio.wait_for(worker.stop(), 30)


async def handle_math_task(task: Task) -> dict[str, Any]:
    """The README's quick-start handler."""
    operation = task.get_input("operation")
    a, b = task.get_input("a"), task.get_input("b")
    if operation == "add":
        return {"result": a + b}
    if operation == "multiply":
        return {"result": a * b}
    raise ValueError(f"Unknown operation: {operation}")


async def describe(task: Task) -> dict[str, Any]:
    """Everything a handler can read from its task."""
    return {"task_id": task.task_id, "queue": task.queue, "timeout_ms": task.timeout_ms,
            "metadata": task.metadata, "input_data": task.input_data, "files": task.files,
            "key": task.get_input("key"), "missing": task.get_input("nope", "fallback"),
            "priority": task.get_metadata("priority", "normal"), "region": task.get_metadata("region", "eu"),
            "by_id": task.get_file_by_id("f2"), "no_id": task.get_file_by_id("f9"),
            "by_name": [f["file_id"] for f in task.get_files_by_name("cat.png")],
            "attempt": task.context.attempt if task.context else None}


async def wait_for_progress(client: AsyncClient, task_id: str, percent: float) -> Any:
    deadline = time.monotonic() + 20
    while True:
        progress = (await client.get(task_id)).progress
        if progress is not None and progress.percent == percent:
            return progress
        assert time.monotonic() < deadline, f"progress {percent} never arrived (last: {progress})"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- the README's worker, end to end

async def test_the_quick_start_handler_answers_math_tasks_and_fails_unknown_operations(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    # Given the README's worker: the controller URL in ws://host:port/ws form, a handler for math.*
    worker = controller.worker(resource_info={"cpu_cores": 4, "memory_mb": 8192})
    worker.register_handler("math.*", handle_math_task)
    await started(worker)
    assert worker.running
    async with controller.client() as client:
        # When tasks are submitted under names the pattern covers
        add = await client.submit_task("math.add", {"operation": "add", "a": 2, "b": 3}).submit()
        mul = await client.submit_task("math.stats.mul", {"operation": "multiply", "a": 4, "b": 5}).submit()
        bad = await client.submit_task("math.div", {"operation": "divide", "a": 1, "b": 0}).retry_policy(TWICE).submit()
        # Then the handler's return value is the result, and its exception fails the task after its retries
        assert (await add.wait(20)).value == {"result": 5}
        assert (await mul.wait(20)).value == {"result": 20}
        failed = await bad.wait(20)
        assert failed.status is TaskStatus.FAILED
        assert failed.error is not None
        assert (failed.error.error_type, failed.error.message) == ("ValueError", "Unknown operation: divide")
        assert (await bad.info()).attempts == 2
        # And the worker shows in the server's list with its resource info
        [listed] = await client.workers()
        assert (listed["worker_id"], listed["resource_info"]) == ("dw-1", {"cpu_cores": 4, "memory_mb": 8192})
    await worker.stop()
    assert not worker.running


async def test_a_handler_sees_the_task_id_queue_timeout_metadata_input_and_files(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("inspect.#", describe)
    await started(worker)
    files = [{"file_id": "f1", "filename": "cat.png", "storage_url": "s3://bucket/cat.png", "size": 10},
             {"file_id": "f2", "filename": "doc.txt", "storage_url": "s3://bucket/doc.txt"},
             {"file_id": "f3", "filename": "cat.png", "storage_url": "s3://bucket/old/cat.png"}]
    async with controller.client() as client:
        handle = await (client.submit_task("inspect.one", {"key": "value", "n": 1}).timeout(1.5)
                        .metadata(priority="high", files=files).submit())
        seen = (await handle.wait(20)).value
    assert seen == {"task_id": handle.id, "queue": "inspect.one", "timeout_ms": 1500,
                    "metadata": {"priority": "high", "files": files}, "input_data": {"key": "value", "n": 1},
                    "files": files, "key": "value", "missing": "fallback", "priority": "high", "region": "eu",
                    "by_id": files[1], "no_id": None, "by_name": ["f1", "f3"], "attempt": 1}


async def test_a_task_without_timeout_or_files_has_timeout_ms_zero_and_no_files(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("inspect.*", describe)
    await started(worker)
    async with controller.client() as client:
        seen = (await (await client.submit_task("inspect.bare", {}).submit()).wait(20)).value
    assert (seen["timeout_ms"], seen["files"], seen["input_data"], seen["by_name"]) == (0, [], {}, [])


async def test_progress_sent_from_a_handler_reaches_clients_while_it_runs(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    seen = threading.Event()
    worker = controller.worker()

    async def long_running(task: Task) -> dict[str, Any]:
        await worker.send_task_progress(25.0, "Processing started")
        await worker.send_task_progress(50.0, "Half way done", {"rows": 10})
        await asyncio.to_thread(seen.wait, 20)
        return {"status": "completed"}

    worker.register_handler("long.*", long_running)
    await started(worker)
    async with controller.client() as client:
        handle = await client.submit_task("long.job", {}).submit()
        progress = await wait_for_progress(client, handle.id, 50.0)
        assert (progress.message, progress.data) == ("Half way done", {"rows": 10})
        assert (await handle.info()).status is TaskStatus.RUNNING
        seen.set()
        assert (await handle.wait(20)).value == {"status": "completed"}


async def test_a_plain_function_handler_runs_in_a_thread(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("sync.*", lambda task: {"thread": threading.current_thread().name, "q": task.queue})
    await started(worker)
    async with controller.client() as client:
        value = (await (await client.submit_task("sync.job", {}).submit()).wait(20)).value
    assert value["q"] == "sync.job"
    assert value["thread"] != threading.current_thread().name


async def test_a_failing_attempt_is_retried_per_the_task_policy(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()

    async def flaky(task: Task) -> dict[str, Any]:
        if task.context is not None and task.context.attempt == 1:
            raise RuntimeError("Processing failed: first try")
        return {"attempt": task.context.attempt if task.context else None}

    worker.register_handler("flaky", flaky)
    await started(worker)
    async with controller.client() as client:
        handle = await client.submit_task("flaky", {}).retry_policy(TWICE).submit()
        assert (await handle.wait(20)).value == {"attempt": 2}
        info = await handle.info()
    assert [e.message for e in info.errors] == ["Processing failed: first try"]


# ---------------------------------------------------------------- configuration and the environment

async def test_missing_arguments_are_read_from_the_distworker_variables(
        controller: Controller, started: Callable[..., Awaitable[Worker]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTWORKER_CONTROLLER_URL", controller.ws_url)
    monkeypatch.setenv("DISTWORKER_WORKER_ID", "dw-2")
    monkeypatch.setenv("DISTWORKER_WORKER_TOKEN", controller.secrets["dw-2"])
    worker = Worker(handle_signals=False)
    assert (worker.controller_url, worker.worker_id) == (controller.ws_url, "dw-2")
    worker.register_handler("math.*", handle_math_task)
    await started(worker)
    async with controller.client() as client:
        handle = await client.submit_task("math.add", {"operation": "add", "a": 1, "b": 1}).submit()
        assert (await handle.wait(20)).value == {"result": 2}
        assert (await handle.info()).worker_id == "dw-2"


def test_no_controller_url_anywhere_is_a_configuration_error_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISTWORKER_CONTROLLER_URL", "DISTWORKER_WORKER_ID", "DISTWORKER_WORKER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError) as url_only:
        Worker(worker_id="w", worker_token="t")
    assert str(url_only.value) == ("a DistWorker worker needs controller_url= (or $DISTWORKER_CONTROLLER_URL); the "
                                   "controller is a treadle server's WebSocket, e.g. ws://localhost:52710/ws")
    with pytest.raises(ConfigurationError) as token_only:
        Worker("ws://localhost:8080/ws", "w")
    assert str(token_only.value) == ("a DistWorker worker needs worker_token= (or $DISTWORKER_WORKER_TOKEN); "
                                     "`treadle auth add-worker NAME` creates a worker id and prints its token")
    with pytest.raises(ConfigurationError) as everything:
        Worker()
    assert str(everything.value).startswith(
        "a DistWorker worker needs controller_url= (or $DISTWORKER_CONTROLLER_URL), worker_id= (or "
        "$DISTWORKER_WORKER_ID), worker_token= (or $DISTWORKER_WORKER_TOKEN); ")


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:///treadle.db", "controller_url must be the WebSocket URL of a treadle server"),
    ("localhost:8080", "controller_url must be the WebSocket URL of a treadle server"),
    ("ws:///ws", "controller_url must be the WebSocket URL of a treadle server"),
    ("ws://localhost:99999/ws", "has an invalid port"),
])
def test_a_controller_url_that_is_not_a_server_websocket_url_is_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Worker(url, "w", "t")


def test_controller_urls_keep_their_path_and_get_the_standard_port_when_they_have_none() -> None:
    assert server_url("ws://localhost:8080/ws") == "ws://localhost:8080/ws"
    assert server_url("wss://workers.example.com/ws") == "wss://workers.example.com:443/ws"
    assert server_url("ws://[::1]/ws") == "ws://[::1]:80/ws"
    assert server_url("https://controller.example.com/") == "https://controller.example.com:443/"
    assert resolve("ws://h:1/ws", "w", "t", environ={}).url == "ws://h:1/ws"


@pytest.mark.parametrize(("options", "message"), [
    ({"heartbeat_interval": 0}, "heartbeat_interval must be a positive number of seconds, got 0"),
    ({"reconnect_interval": -1}, "reconnect_interval and request_timeout must be positive"),
    ({"max_reconnect_attempts": -2}, r"max_reconnect_attempts must be an integer >= -1 \(-1: unlimited\)"),
    ({"queue_patterns": []}, "queue_patterns is empty"),
    ({"queue_patterns": "math.*"}, "queue_patterns must be a list of patterns"),
    ({"queue_patterns": ["math .x"]}, "invalid pattern 'math .x'"),
    ({"concurrency": 0}, "concurrency must be an integer >= 1"),
])
def test_bad_worker_options_are_refused_when_the_worker_is_made(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Worker("ws://localhost:8080/ws", "w", "t", **options)


def test_a_heartbeat_interval_sets_the_lease_renewal_cadence() -> None:
    worker = Worker("ws://localhost:8080/ws", "w", "t", heartbeat_interval=2.5)
    settings = worker.engine.settings
    assert (settings.heartbeat_seconds, settings.lease_seconds) == (2.5, 7.5)
    default = Worker("ws://localhost:8080/ws", "w", "t").engine.settings
    assert (default.heartbeat_seconds, default.lease_seconds) == (30.0, 90.0)


async def test_bad_handlers_and_a_start_without_handlers_are_configuration_errors() -> None:
    worker = Worker("ws://localhost:8080/ws", "w", "t", handle_signals=False)
    with pytest.raises(ConfigurationError, match=r"the handler for 'math\.\*' must be callable"):
        worker.register_handler("math.*", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="invalid pattern ''"):
        worker.register_handler("", handle_math_task)
    with pytest.raises(ConfigurationError, match=r"this worker has no handlers: call worker.register_handler"):
        await worker.start()
    assert not worker.running


async def test_send_task_progress_outside_a_handler_says_it_needs_a_running_task() -> None:
    worker = Worker("ws://localhost:8080/ws", "w", "t", handle_signals=False)
    with pytest.raises(TreadleError, match=r"send_task_progress\(\) needs a running task"):
        await worker.send_task_progress(50.0, "half")


# ---------------------------------------------------------------- wrong credentials, unreachable servers

async def test_a_wrong_token_fails_start_with_the_servers_reason(controller: Controller) -> None:
    worker = Worker(controller.ws_url, "dw-1", "tdw_wrong", handle_signals=False)
    worker.register_handler("math.*", handle_math_task)
    with pytest.raises(AuthenticationError, match="bad signature: the worker secret is wrong"):
        await asyncio.wait_for(worker.start(), 20)
    assert not worker.running
    await worker.stop()          # nothing to stop: no error


async def test_an_unknown_worker_id_fails_start_with_the_servers_reason(controller: Controller) -> None:
    worker = Worker(controller.ws_url, "nobody", controller.secrets["dw-1"], handle_signals=False)
    worker.register_handler("math.*", handle_math_task)
    with pytest.raises(AuthenticationError, match="unknown worker 'nobody'"):
        await asyncio.wait_for(worker.start(), 20)


async def test_an_unreachable_controller_with_no_reconnects_ends_the_worker_with_connection_lost() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    worker = Worker(url, "w", "t", max_reconnect_attempts=0, reconnect_interval=0.1, handle_signals=False)
    worker.register_handler("math.*", handle_math_task)
    await asyncio.wait_for(worker.start(), 20)
    with pytest.raises(ConnectionLostError, match=f"could not reach the treadle server at {url} after 0 reconnection"):
        await asyncio.wait_for(worker.stop(), 20)


# ---------------------------------------------------------------- what the worker takes

async def test_a_name_no_handler_matches_is_left_for_other_workers(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("math.*", handle_math_task)
    await started(worker)
    async with controller.client() as client:
        # Given a task nobody here handles, submitted before one the worker does handle
        orphan = await client.submit_task("image.resize", {"path": "cat.png"}).submit()
        later = await client.submit_task("math.add", {"operation": "add", "a": 1, "b": 2}).submit()
        # Then the later one is done while the first was never claimed
        assert (await later.wait(20)).value == {"result": 3}
        info = await orphan.info()
        assert (info.status, info.attempts, info.worker_id) == (TaskStatus.PENDING, 0, None)
        # And a worker with a handler for it takes it
        other = controller.worker("dw-2")
        other.register_handler("image.*", describe)
        await started(other)
        assert (await orphan.wait(20)).value["queue"] == "image.resize"


async def test_a_queue_pattern_without_a_handler_fails_its_tasks_with_no_handler_at_once(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker(queue_patterns=["math.*", "image.*"])
    worker.register_handler("math.*", handle_math_task)
    await started(worker)
    async with controller.client() as client:
        handle = await client.submit_task("image.resize", {}).submit()
        result = await handle.wait(20)
        assert result.error is not None
        assert (result.error.error_code, result.error.message) == ("NO_HANDLER", "No handler found for queue: "
                                                                                 "image.resize")
        assert (await handle.info()).attempts == 1          # not retried: no attempt could help


@pytest.mark.parametrize(("metadata", "code", "message"), [
    ({"files": "cat.png"}, "INVALID_FILES", "metadata 'files' must be a list of objects"),
    ({"files": [{"file_id": "f1", "filename": "cat.png"}]}, "INVALID_FILES",
     "metadata 'files' item 0 needs the string field(s) storage_url"),
])
async def test_malformed_files_metadata_fails_the_attempt_without_retries(
        controller: Controller, started: Callable[..., Awaitable[Worker]], metadata: dict[str, Any], code: str,
        message: str) -> None:
    worker = controller.worker()
    worker.register_handler("inspect.*", describe)
    await started(worker)
    async with controller.client() as client:
        handle = await client.submit_task("inspect.files", {}).metadata(metadata).submit()
        result = await handle.wait(20)
        assert (await handle.info()).attempts == 1
    assert result.error is not None
    assert (result.error.error_type, result.error.error_code) == ("TaskValidationError", code)
    assert message in result.error.message


async def test_positional_input_fails_at_once_saying_to_submit_a_dict(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("inspect.*", describe)
    await started(worker)
    async with controller.client() as client:
        result = await (await client.submit_task("inspect.pos", [1, 2]).retry_policy(ONCE).submit()).wait(20)
    assert result.error is not None and result.error.error_code == "INVALID_ARGUMENTS"
    assert "submitted with positional arguments [1, 2]" in result.error.message


async def test_a_stopped_worker_can_start_again(
        controller: Controller, started: Callable[..., Awaitable[Worker]]) -> None:
    worker = controller.worker()
    worker.register_handler("math.*", handle_math_task)
    await started(worker)
    await worker.stop()
    await worker.start()
    async with controller.client() as client:
        handle = await client.submit_task("math.add", {"operation": "add", "a": 20, "b": 22}).submit()
        assert (await handle.wait(20)).value == {"result": 42}


# ---------------------------------------------------------------- signals: the README's loop, interrupted mid-task

README_LOOP = '''
import asyncio
import sys
from pathlib import Path

from treadle.compat.distworker import Task, Worker


async def slow(task: Task):
    await worker.send_task_progress(10.0, "started")
    while not Path(task.get_input("release")).exists():
        await asyncio.sleep(0.02)
    return {"released": True}


async def main():
    global worker
    worker = Worker(heartbeat_interval=1.0)
    worker.register_handler("slow", slow)
    await worker.start()
    print("started", flush=True)
    while True:
        await asyncio.sleep(1)


asyncio.run(main())
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_lets_the_running_task_finish_then_ends_the_program_as_without_the_facade(
        controller: Controller, tmp_path: Path, subprocess_env: dict[str, str], sig: signal.Signals) -> None:
    # Given the README's pattern (start, then loop forever) in a process, running a task that waits for a file
    script = tmp_path / "readme_loop.py"
    script.write_text(README_LOOP)
    env = subprocess_env | {"DISTWORKER_CONTROLLER_URL": controller.ws_url, "DISTWORKER_WORKER_ID": "dw-1",
                            "DISTWORKER_WORKER_TOKEN": controller.secrets["dw-1"]}
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), env=env, stdout=PIPE, stderr=PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"started\n"
        release = tmp_path / "release"
        async with controller.client() as client:
            handle = await client.submit_task("slow", {"release": str(release)}).submit()
            assert (await wait_for_progress(client, handle.id, 10.0)).message == "started"
            # When the signal arrives mid-task
            proc.send_signal(sig)
            # Then the worker waits for the task (the process is still there when the task is let go)
            await asyncio.sleep(0)
            assert proc.returncode is None
            release.touch()
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            # its result was recorded before the process ended, in its first attempt
            info = await handle.info()
            assert (info.status, info.result, info.attempts) == (TaskStatus.SUCCEEDED, {"released": True}, 1)
            deadline = time.monotonic() + 20
            while await client.workers():
                assert time.monotonic() < deadline, "the worker is still listed after its process ended"
                await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # And then the program got the signal as it would have without the facade
    assert proc.returncode == -sig, err.decode()
    if sig == signal.SIGINT:
        assert err.decode().strip().splitlines()[-1] == "KeyboardInterrupt"
