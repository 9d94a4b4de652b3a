"""`treadle demo`: workers in subprocesses, a mixed batch, a live view, a table of outcomes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..client import Client, TaskHandle
from ..core.records import TaskInfo
from ..core.states import TaskStatus
from . import demo_tasks as t
from . import output

EXPECTED = {
    "demo.images.resize": TaskStatus.SUCCEEDED, "demo.storage.upload": TaskStatus.SUCCEEDED,
    "demo.math.add": TaskStatus.SUCCEEDED, "demo.billing.charge": TaskStatus.SUCCEEDED,
    "demo.reports.nightly": TaskStatus.FAILED, "demo.reports.export": TaskStatus.CANCELLED,
}


def _url(db: str) -> str:
    return db if "://" in db else f"sqlite:///{db}"


def _start_workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "treadle", "worker", "--url", url, "--tasks", "treadle.cli.demo_tasks",
           "--concurrency", "4", "--lease-seconds", "10", "--heartbeat-seconds", "2", "--log-level", "ERROR"]
    return [subprocess.Popen(cmd, stdin=subprocess.DEVNULL) for _ in range(count)]


def _submit(client: Client) -> tuple[list[TaskHandle], TaskHandle]:
    handles = client.submit_many(
        [client.submit_task(t.resize_image, {"image": f"photo-{i}.jpg", "steps": 4 + i}) for i in range(4)]
        + [client.submit_task(t.add, [i, i * i]) for i in range(4)]
        + [client.submit_task(t.flaky_upload, {"file": f"backup-{i}.tar"}) for i in range(2)]
        + [client.submit_task(t.charge_card, {"customer": "ada", "amount": 120}),
           client.submit_task(t.broken_report)]
    )
    declined = client.submit_task(t.charge_card, {"customer": "bob", "amount": 5000}).submit()
    # Submitted by name, so only the worker can check the arguments: it fails at once, no retry.
    invalid = client.submit_task("demo.math.add", {"a": "one", "b": 2}).submit()
    export = client.submit_task(t.long_export, {"pages": 100}).priority(10).submit()
    return [*handles, declined, invalid, export], export


def _view(bar: Progress, tasks: list[TaskInfo]) -> Table:
    grid = Table.grid()
    grid.add_row(bar)
    running = [i for i in tasks if i.status is TaskStatus.RUNNING]
    if running:
        table = Table(header_style="bold", box=None)
        for column in ("running", "attempt", "progress"):
            table.add_column(column)
        for info in running:
            table.add_row(info.name, str(info.attempts), output.outcome_text(info))
        grid.add_row(table)
    return grid


def _watch(client: Client, handles: list[TaskHandle], export: TaskHandle,
           workers: list[subprocess.Popen[bytes]]) -> list[TaskInfo]:
    bar = Progress(TextColumn("[bold]tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    job = bar.add_task("tasks", total=len(handles))
    started = time.monotonic()
    cancelled = False
    with Live(_view(bar, []), refresh_per_second=8, transient=False) as live:
        while True:
            infos = [client.get(h.id) for h in handles]
            done = sum(i.status.is_terminal for i in infos)
            bar.update(job, completed=done)
            live.update(_view(bar, infos))
            if done == len(handles) or time.monotonic() - started > 90:
                return infos
            if not cancelled and time.monotonic() - started > 2.0:
                client.cancel(export.id)
                cancelled = True
            if all(w.poll() is not None for w in workers):
                raise RuntimeError("every worker process exited; run `treadle worker` by hand to see why")
            time.sleep(0.15)


def _report(infos: list[TaskInfo]) -> int:
    console = output.console()
    console.print()
    console.print(output.task_table(infos, ids=False))
    counts = Counter(i.status.value for i in infos)
    console.print("  ".join(f"{output.status_text(TaskStatus(s))}: {n}" for s, n in sorted(counts.items())))
    invalid = [i for i in infos if i.error is not None and i.error.error_type == "TaskValidationError"]
    unexpected = [i for i in infos if i.status is not EXPECTED.get(i.name) and i not in invalid
                  and not (i.name == "demo.billing.charge" and i.status is TaskStatus.FAILED)]
    console.print("Inspect one with [bold]treadle status <id>[/], list them with [bold]treadle ls[/].")
    return 1 if unexpected else 0


def run_demo(db: str, workers: int) -> int:
    """Run the demo against `db`; returns the exit status."""
    url = _url(db)
    console = output.console()
    with Client(url) as client:
        console.print(f"treadle demo: [bold]{workers}[/] worker processes on [bold]{url}[/]")
        procs = _start_workers(url, workers)
        try:
            handles, export = _submit(client)
            infos = _watch(client, handles, export, procs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
        return _report(infos)
