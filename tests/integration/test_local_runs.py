"""Local runs (`treadle.start_local`): every runner, for real — child processes (fork and spawn),
threads, the background event loop, the caller itself, and a Dask cluster."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import local_tasks as lt
import pytest

from treadle import (
    ConfigurationError,
    DaskRunner,
    ProcessRunner,
    SerializationError,
    TaskError,
    TaskRun,
    TaskStatus,
    TaskTimeoutError,
    TaskValidationError,
    WaitTimeoutError,
    start_local,
    task,
)

BACKGROUND = ("process", "thread", "asyncio")


def poll_until(predicate: Any, what: str, deadline: float = lt.DEADLINE_SECONDS) -> None:
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("runner", lt.RUNNERS)
def test_a_run_returns_its_value_and_progress(runner: str) -> None:
    run = start_local(lt.DOUBLE[runner], 21)
    assert isinstance(run, TaskRun)
    assert run.get_result(timeout=30) == 42
    assert run.status is TaskStatus.SUCCEEDED and not run.is_running()
    assert run.attempts == 1 and run.error is None and run.exception() is None
    progress = run.progress()
    assert progress is not None and (progress.percent, progress.message, progress.data) == (100, "doubled", {"n": 21})


@pytest.mark.parametrize("runner", lt.RUNNERS)
def test_coroutines_run_on_every_runner(runner: str) -> None:
    assert start_local(lt.DOUBLE_ASYNC[runner], 5).get_result(timeout=30) == 10


@pytest.mark.parametrize("runner", lt.RUNNERS)
def test_retries_follow_the_tasks_own_options(runner: str, tmp_path: Path) -> None:
    run = start_local(lt.FLAKY[runner], str(tmp_path / "m"))
    assert run.get_result(timeout=30) == "ok after 3"
    assert run.attempts == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attempt-1", "attempt-2", "attempt-3"]


def test_a_spawned_process_reimports_the_task_with_its_options(tmp_path: Path) -> None:
    run = start_local(lt.flaky_spawned, str(tmp_path / "m"))
    assert run.get_result(timeout=60) == "ok after 3"
    pids = {(tmp_path / f"attempt-{i}").read_text() for i in (1, 2, 3)}
    assert pids != {str(os.getpid())} and len(pids) == 1      # one child ran every attempt


@pytest.mark.parametrize("runner", lt.RUNNERS)
def test_a_failure_is_reraised_as_the_tasks_own_exception(runner: str) -> None:
    run = start_local(lt.REFUSE[runner], "NOPE")
    with pytest.raises(TaskError, match="refused") as caught:
        run.get_result(timeout=30)
    assert caught.value.error_code == "NOPE"
    assert run.status is TaskStatus.FAILED
    assert run.attempts == 1                               # stop_on_codes: no retry despite max_attempts=5
    assert run.error is not None and run.error.error_code == "NOPE" and "Traceback" in (run.error.traceback or "")
    assert isinstance(run.exception(), TaskError)


@pytest.mark.parametrize("runner", lt.RUNNERS)
def test_an_attempt_longer_than_its_timeout_fails_with_task_timeout_error(runner: str, tmp_path: Path) -> None:
    run = start_local(lt.SLOW[runner], str(tmp_path / "started"), str(tmp_path / "never"))
    with pytest.raises(TaskTimeoutError, match=r"timeout of 0\.2s"):
        run.get_result(timeout=30)
    assert run.status is TaskStatus.FAILED


@pytest.mark.parametrize("runner", BACKGROUND)
def test_ten_sleepy_tasks_run_side_by_side_without_blocking_the_caller(runner: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    runs = [start_local(lt.GATED[runner], str(tmp_path / f"started-{i}"), str(gate)) for i in range(10)]
    # Every run waits for the gate, which opens only after all ten started: a runner that ran
    # them one after another, or blocked this loop, would never get there.
    poll_until(lambda: all((tmp_path / f"started-{i}").exists() for i in range(10)), "ten runs to start")
    assert all(run.is_running() for run in runs)
    with pytest.raises(WaitTimeoutError, match=r"still running after 0\.05s"):
        runs[0].wait(timeout=0.05)
    gate.write_text("go")
    for run in runs:
        run.wait(timeout=30)
    pids = {run.get_result() for run in runs}
    assert len(pids) == (10 if runner == "process" else 1)   # a process each, or threads of this one


@pytest.mark.parametrize("runner", ["process", "asyncio"])
def test_stop_interrupts_a_process_or_a_coroutine_at_once(runner: str, tmp_path: Path) -> None:
    started = tmp_path / "started"
    if runner == "process":     # a process that never looks at is_cancelled()
        run = start_local(lt.GATED["process"], str(started), str(tmp_path / "never"))
    else:
        run = start_local(task(runner="asyncio", retries=0)(lt.until_cancelled_async), str(started))
    poll_until(started.exists, "the run to start")
    run.stop()
    assert run.status is TaskStatus.CANCELLED and not run.is_running()
    with pytest.raises(TaskError, match="stopped on request") as caught:
        run.get_result(timeout=30)
    assert caught.value.error_type == "Cancelled"


def test_stop_tells_a_thread_which_ends_cancelled(tmp_path: Path) -> None:
    started = tmp_path / "started"
    run = start_local(lt.UNTIL_CANCELLED["thread"], str(started))
    poll_until(started.exists, "the run to start")
    assert run.is_running()
    run.stop()
    run.wait(timeout=30)
    assert run.status is TaskStatus.CANCELLED           # its return value does not count after a stop
    stopped = run.exception()
    assert isinstance(stopped, TaskError) and stopped.error_type == "Cancelled"


def test_stop_between_attempts_ends_the_retries(tmp_path: Path) -> None:
    slow_retry = task(runner="thread", retries=5, retry_sleep_time=60)(lt.flaky)
    run = start_local(slow_retry, str(tmp_path / "m"))
    poll_until((tmp_path / "attempt-1").exists, "the first attempt")
    run.stop()
    run.wait(timeout=30)
    assert run.status is TaskStatus.CANCELLED
    assert not (tmp_path / "attempt-2").exists()


def test_stopping_an_ended_run_changes_nothing() -> None:
    run = start_local(lt.DOUBLE["sequential"], 2)
    assert not run.is_running()
    run.stop()
    assert run.get_result() == 4 and run.status is TaskStatus.SUCCEEDED


def test_logging_tells_each_attempt(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="treadle.local")
    run = start_local(lt.FLAKY["sequential"], str(tmp_path / "m"))
    assert run.get_result() == "ok after 3"
    messages = [r.getMessage() for r in caplog.records if r.name == "treadle.local"]
    assert [m.split(": ", 1)[0].split(") ", 1)[1] for m in messages[:2]] == ["attempt 1/3 failed", "attempt 2/3 failed"]
    assert "ConnectionError: flaky attempt 1; retrying in 0s" in messages[0]
    assert "finished" in messages[2] and "after 3 attempt(s)" in messages[2]


# Wrong input: a clear error at once, nothing started.

def test_invalid_arguments_raise_at_start() -> None:
    with pytest.raises(TaskValidationError,
                       match=r"invalid arguments for task double\.thread: n: Input should be a valid integer"):
        start_local(lt.DOUBLE["thread"], "not a number")
    with pytest.raises(TaskValidationError, match="missing a required argument: 'n'"):
        start_local(lt.DOUBLE["process"])


def test_an_unknown_runner_is_refused_at_decoration() -> None:
    with pytest.raises(ConfigurationError, match="runner must be one of process, thread, asyncio, sequential, dask "
                                                 "or a runner object"):
        task(runner="cluster")(lt.double)
    with pytest.raises(ConfigurationError, match="start_method must be one of"):
        ProcessRunner("teleport")


def test_a_result_that_cannot_leave_its_process_is_a_serialization_error() -> None:
    run = start_local(task(runner="process", retries=0)(lt.unpicklable))
    with pytest.raises(SerializationError, match="cannot be sent back from its process"):
        run.get_result(timeout=30)


def test_a_process_that_dies_without_a_word_fails_the_run() -> None:
    run = start_local(lt.killed_by_signal)
    with pytest.raises(TaskError, match=r"ended \(exit code -9\) without a result") as caught:
        run.get_result(timeout=30)
    assert caught.value.error_type == "ProcessExited"


def test_spawn_needs_a_task_defined_at_module_level() -> None:
    def local_only() -> int:
        return 1

    run = start_local(task(runner=ProcessRunner("spawn"))(local_only))
    with pytest.raises(ConfigurationError, match="must be defined at module level"):
        run.get_result(timeout=60)


def test_the_dask_runner_without_a_client_says_how_to_get_one() -> None:
    with pytest.raises(ConfigurationError, match="the dask runner found no Dask client"):
        start_local(task(runner="dask")(lt.double), 1)


# Dask: the same runs on a real cluster.

@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_runs_return_values_and_retry(dask_client: Any, tmp_path: Path) -> None:
    runner = DaskRunner(dask_client)
    assert start_local(task(runner=runner)(lt.double), 8).get_result(timeout=60) == 16
    flaky = task(runner=runner, retries=2, retry_sleep_time=0)(lt.flaky)
    run = start_local(flaky, str(tmp_path / "m"))
    assert run.get_result(timeout=60) == "ok after 3" and run.attempts == 3
    assert (tmp_path / "attempt-1").read_text() != str(os.getpid())     # ran in a Dask worker process


def test_dask_runs_fail_and_stop_like_the_others(dask_client: Any, tmp_path: Path) -> None:
    runner = DaskRunner(dask_client)
    refused = start_local(task(runner=runner, retries=3, retry_sleep_time=0)(lt.refuse), "X")
    with pytest.raises(TaskError, match="refused"):
        refused.get_result(timeout=60)
    assert refused.attempts == 4
    blocked = start_local(task(runner=runner, retries=0)(lt.gated), str(tmp_path / "s"), str(tmp_path / "never"))
    with pytest.raises(WaitTimeoutError):
        blocked.wait(timeout=0.1)
    blocked.stop()
    assert blocked.status is TaskStatus.CANCELLED


def test_the_dask_runner_finds_the_current_client(dask_client: Any) -> None:
    assert start_local(task(runner="dask")(lt.double), 4).get_result(timeout=60) == 8


def test_a_script_that_never_reads_a_large_result_still_exits(tmp_path: Path,
                                                              subprocess_env: dict[str, str]) -> None:
    script = "import local_tasks, treadle; treadle.start_local(local_tasks.big_result); print('leaving')"
    out = subprocess.run([sys.executable, "-c", script], env=subprocess_env, capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stdout) == (0, "leaving\n"), out.stderr
