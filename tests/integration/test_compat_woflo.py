"""treadle.compat.woflo: woflo's names over treadle's local runs (processes, fork and spawn, and the caller)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import local_tasks as lt
import pytest

from treadle import TaskValidationError, WaitTimeoutError
from treadle.compat.woflo import Task, task
from treadle.compat.woflo.runners import BaseTaskRun, MultiprocessTaskRun, SequentialTaskRun
from treadle.compat.woflo.runners.multiprocess import ForkProcess, SpawnProcess


def test_the_default_runner_is_a_forked_process() -> None:
    run = task(lambda: os.getpid())()
    assert isinstance(run, MultiprocessTaskRun)
    assert run.get_result() != os.getpid()


def test_process_type_switches_to_spawn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(MultiprocessTaskRun, "process_type", SpawnProcess)
    run = lt.woflo_flaky(str(tmp_path / "m"))
    assert run.run.__class__.__name__ == "ProcessRun"
    assert run.get_result(raise_exceptions=True) == "ok after 3"       # retries=2 travel with the task
    monkeypatch.setattr(MultiprocessTaskRun, "process_type", ForkProcess)
    assert task(lambda: 5)().get_result() == 5


def test_a_failed_run_returns_its_exception_or_raises_it() -> None:
    run = task(retries=1, retry_sleep_time=0, runner=SequentialTaskRun)(lt.refuse)("E1")
    assert not run.is_running()
    error = run.get_result()
    assert type(error).__name__ == "TaskError" and str(error) == "refused" and run.run.attempts == 2
    with pytest.raises(type(error), match="refused"):
        run.get_result(raise_exceptions=True)


def test_wait_stop_and_is_running(tmp_path: Path) -> None:
    run = task(lt.gated)(str(tmp_path / "started"), str(tmp_path / "never"))
    assert run.is_running()
    with pytest.raises(WaitTimeoutError):
        run.wait(timeout=0.05)
    run.stop()
    assert not run.is_running()
    assert "stopped on request" in str(run.get_result())


class RecordingRun(BaseTaskRun):
    """A custom runner as woflo users write them: run `fn` wherever, here right away."""

    def __init__(self, task: Task, instance_name: str, fn: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        super().__init__(task, instance_name, fn, args, kwargs)
        self.outcome = fn(*args, **kwargs)

    def get_result(self, raise_exceptions: bool = False) -> Any:
        ok, value = self.outcome
        if raise_exceptions and not ok:
            raise value
        return value

    def is_running(self) -> bool:
        return False


def test_a_custom_runner_gets_a_function_that_runs_every_attempt(tmp_path: Path) -> None:
    flaky = task(retries=2, retry_sleep_time=0, runner=RecordingRun)(lt.flaky)
    run = flaky(str(tmp_path / "m"))
    assert run.outcome == (True, "ok after 3")
    run.wait()                                   # the base class polls is_running()
    run.stop()                                   # and has nothing to stop once it ended
    assert run.get_result() == "ok after 3"
    assert run.instance_name.startswith("flaky-")
    failing = task(runner=RecordingRun)(lt.refuse)("X")
    assert failing.outcome[0] is False and str(failing.outcome[1]) == "refused"


def test_wrong_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="runner must be a BaseTaskRun subclass, got 'thread'"):
        task(runner="thread")(lt.double)  # type: ignore[arg-type]
    with pytest.raises(TaskValidationError, match="invalid arguments for task double"):
        task(lt.double, )("x")
    with pytest.raises(Exception, match="retries must be >= 0"):
        task(retries=-1)(lt.double)
