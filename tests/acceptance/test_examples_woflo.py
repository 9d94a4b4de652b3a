"""woflo's README examples (examples/woflo), run as scripts, all at once: their output is the test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["readme_sleepy", "readme_retries", "readme_sequential", "readme_task_run", "readme_spawn", "treadle_local"]


def _start_all() -> dict[str, subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TREADLE_")}
    return {name: subprocess.Popen([sys.executable, "-m", f"examples.woflo.{name}"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in EXAMPLES}


# Started when this module is collected, so the examples (which mostly sleep: ten sequential naps of 5 s
# take 50 s) run while the rest of the suite does; the tests below only read what they printed.
_RUNNING = _start_all()


@pytest.fixture(scope="module")
def outputs() -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """What every example printed, once each has ended."""
    done = {}
    for name, proc in _RUNNING.items():
        out, err = proc.communicate(timeout=240)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    yield done


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def printed_by_children(result: subprocess.CompletedProcess[str], line: str) -> int:
    """How often child processes printed `line` (their writes to the shared pipe may interleave)."""
    assert result.returncode == 0, result.stderr
    return result.stdout.count(line)


def test_ten_sleepy_workers_all_finish(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert printed_by_children(outputs["readme_sleepy"], "I am done") == 10
    assert outputs["readme_sleepy"].stdout.replace("I am done", "").strip() == ""


def test_the_retried_task_succeeds_on_its_third_attempt(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert lines(outputs["readme_retries"]) == ["{'attempt': 3, 'data': [1, 2, 3]}"]
    log = outputs["readme_retries"].stderr
    assert "attempt 1/3 failed: ConnectionError: the API is down (attempt 1); retrying in 5s" in log
    assert "attempt 2/3 failed" in log


def test_sequential_runs_print_in_turn(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert lines(outputs["readme_sequential"]) == ["I am done"] * 10


def test_a_task_run_is_monitored_then_read(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert lines(outputs["readme_task_run"]) == ["Well rested", "Exception('Ouch oof')", "raised: Ouch oof"]


def test_spawned_processes_run_the_task(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = outputs["readme_spawn"]
    assert printed_by_children(result, "I am done") == 3
    assert result.stdout.endswith("3 spawned processes, none of them this one: True\n")


def test_treadles_own_version(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert lines(outputs["treadle_local"]) == [
        "started 10 runs without waiting for them", "['I am done']", "{'attempt': 3}",
        "timed out: the attempt ran longer than its timeout of 0.5s", "49", "cancelled"]
