"""The README's quickstart, run the way the README says: a CLI worker and the example client."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_as_documented(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    env = dict(subprocess_env, TREADLE_URL=f"sqlite:///{tmp_path / 'quickstart.db'}")
    worker = subprocess.Popen([sys.executable, "-m", "treadle", "worker", "--tasks", "examples.quickstart.tasks"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out = subprocess.run([sys.executable, "-m", "examples.quickstart.submit"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "{'sent_to': 'ada@example.com', 'subject': 'Welcome!'}",
        "TaskError [INVALID_EMAIL]: bad address 'not-an-address'",
        "['cat.png@64', 'cat.png@128', 'cat.png@256']",
    ]
    assert worker.returncode == 0


def test_the_workflow_example_runs_as_documented(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    env = dict(subprocess_env, TREADLE_URL=f"sqlite:///{tmp_path / 'order.db'}")
    out = subprocess.run([sys.executable, "-m", "examples.workflows.order"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "completed {'receipt': {'order': '42', 'charged': 99}, 'approved_by': 'ada'}"
