"""The simple-workflow README's examples, run as a user runs them, on the real PostgreSQL.

Each example appends `search_path=workflow` to `$DATABASE_URL` as the README does; the tests give
a URL with treadle's `schema=` parameter, which wins, so every test keeps to its own schema.
"""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from treadle import TaskStatus
from treadle.compat.simpleworkflow import IntentClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
Start = Callable[[str], "Example"]


class Example:
    """An example process whose output goes to a file the test can read while it runs."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", f"examples.simpleworkflow.{module}"], cwd=ROOT,
                                     env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; output:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(60)
        finally:
            self._out.close()


@pytest.fixture
def env(subprocess_env: dict[str, str], pg_url: str) -> dict[str, str]:
    return dict(subprocess_env, DATABASE_URL=pg_url)


@pytest.fixture
def start(env: dict[str, str], tmp_path: Path) -> Iterator[Start]:
    examples: list[Example] = []

    def run(module: str) -> Example:
        examples.append(Example(module, env, tmp_path / f"{module}-{len(examples)}.log"))
        return examples[-1]

    yield run
    for example in examples:
        if example.proc.poll() is None:
            example.proc.kill()
        example.stop()


def submit(env: dict[str, str], *kinds: str) -> list[Any]:
    out = subprocess.run([sys.executable, "-m", "examples.simpleworkflow.submit", *kinds], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr
    return [ast.literal_eval(line) for line in out.stdout.splitlines()]


def stored_names(pg_url: str, schema: str) -> list[str]:
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        return [r[0] for r in conn.execute(f'SELECT name FROM "{schema}".tasks ORDER BY seq').fetchall()]


def test_readme_sections_1_and_2_send_an_email(start: Start, env: dict[str, str], pg_url: str, pg_schema: str) -> None:
    # Given the README's email worker
    worker = start("email_worker")
    # When an email intent is submitted
    results = submit(env, "email")
    # Then the executor printed and returned what the README says, in the test's own schema
    assert results == [{"sent": True, "to": "ada@example.com"}]
    assert "Sending email to ada@example.com: Welcome!" in worker.output()
    assert stored_names(pg_url, pg_schema) == ["notify.email.v1"]
    assert worker.stop() == 0


def test_the_complete_example_sends_emails_and_texts_and_stops_on_sigint(start: Start, env: dict[str, str]) -> None:
    worker = start("notification_worker")
    worker.wait_for("Starting notification worker...")
    results = submit(env, "email", "sms")
    assert results == [{"sent": True, "to": "ada@example.com", "method": "email"},
                       {"sent": True, "to": "+15550100", "method": "sms"}]
    out = worker.output()
    assert "Sending email to ada@example.com: Welcome!" in out
    assert "Sending SMS to +15550100: Your code is 4242" in out
    assert worker.stop(signal.SIGINT) == 0


def test_the_treadle_version_gives_the_same_results(start: Start, env: dict[str, str]) -> None:
    worker = start("treadle_worker")
    results = submit(env, "email", "sms")
    assert results == [{"sent": True, "to": "ada@example.com", "method": "email"},
                       {"sent": True, "to": "+15550100", "method": "sms"}]
    assert "Sending SMS to +15550100: Your code is 4242" in worker.output()
    assert worker.stop() == 0


@pytest.mark.parametrize(("module", "stopped"), [("video_worker", "Poller stopped"), ("treadle_worker", "")])
def test_a_long_video_run_is_cancelled_cooperatively(start: Start, pg_url: str, module: str, stopped: str) -> None:
    # Given the README's video worker (sections 3 and 4: its poller in a background thread)
    worker = start(module)
    with IntentClient(pg_url) as intents:
        run_id = intents.submit("media.video.v1", {"video_id": "cat-42"})
        worker.wait_for("Processing video cat-42... step 1/10")
        # When the intent is cancelled while it runs
        intents.cancel(run_id)
        result = intents.client.wait(run_id, timeout=60)
    # Then the executor noticed between steps and the run ended cancelled
    assert (result.status, result.attempts) == (TaskStatus.CANCELLED, 1)
    assert "Workflow cancelled, stopping..." in worker.output()
    # and Ctrl-C stops the application
    assert worker.stop(signal.SIGINT) == 0
    assert stopped in worker.output()


def test_the_video_worker_runs_its_poller_in_the_background(start: Start) -> None:
    worker = start("video_worker")
    worker.wait_for("Poller running in background...")
    assert worker.stop(signal.SIGINT) == 0
    assert worker.output().rstrip().endswith("Poller stopped")


def test_an_unreachable_database_stops_the_example_with_the_reason(env: dict[str, str], tmp_path: Path) -> None:
    env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/db?retry_seconds=0.5&connect_timeout_seconds=0.5"
    worker = Example("notification_worker", env, tmp_path / "unreachable.log")
    code = worker.proc.wait(60)
    worker.stop()
    assert code == 1
    assert "StorageError" in worker.output() and "127.0.0.1" in worker.output()


def test_submit_refuses_an_unknown_sample(env: dict[str, str]) -> None:
    out = subprocess.run([sys.executable, "-m", "examples.simpleworkflow.submit", "fax"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == "unknown sample(s) fax: choose from email, sms, video"
