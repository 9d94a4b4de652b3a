"""`treadle worker | submit | status | ls | cancel | retry | demo`, plus `wf …`, `server`, `auth …`, `workers`.

Every command takes `--url` (alias `--db`); the default is `$TREADLE_URL`, else
`sqlite:///treadle.db`. A mistake (bad JSON, unknown id, unreachable database) prints one
line on stderr and exits with status 1 or 2, never a traceback.

The command modules do without `from __future__ import annotations`: Typer builds every command
from its annotations at each start (a worker process starts this way), and evaluated annotations
save it an `eval` per parameter, about 12 ms of each start.
"""


import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
import typer

from ..core.records import DEFAULT_NAMESPACE
from ..core.retry import RetryPolicy
from ..core.states import TaskStatus
from ..engine.worker import Worker
from ..errors import ConfigurationError
from ..settings import WorkerSettings
from ..storage import is_server_url
from . import output, server, wf
from .common import NamespaceOption, UrlOption, fail, friendly, open_client, parse_json, resolve_url, split_values

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="treadle: tasks, workers and durable workflows.")
app.add_typer(wf.app, name="wf")
server.register(app)


@app.callback()
def _quiet_libraries() -> None:
    """Short commands print one line, not library warnings; `worker` configures its own logging."""
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)   # treadle logs its own retries
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def configure_logging(level: str) -> None:
    """Log lines on stderr, for the long-running commands."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
@friendly
def worker(
    url: UrlOption = None,
    tasks: Annotated[list[str] | None, typer.Option(
        "--tasks", "-t", help="Module whose top-level tasks to run (repeat, or separate with commas).")] = None,
    queues: Annotated[list[str] | None, typer.Option(
        "--queues", "-q", help="Only claim names matching these patterns (glob math.* or LIKE billing.%).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Attempts run at once.")] = 8,
    mode: Annotated[str, typer.Option("--mode", help="thread (sync tasks in threads) or process (one per task).")
                    ] = "thread",
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    worker_id: Annotated[str | None, typer.Option("--worker-id", envvar="TREADLE_WORKER_ID")] = None,
    resource_info: Annotated[str | None, typer.Option(
        "--resource-info", help="JSON object shown by `treadle workers` (with a server URL).")] = None,
    reconnect_interval: Annotated[float, typer.Option(
        "--reconnect-interval", min=0.01, help="Seconds before reconnecting to a server (doubling, up to 30).")] = 1.0,
    max_reconnect_attempts: Annotated[int, typer.Option(
        "--max-reconnect-attempts", min=-1, help="Give up after this many (-1: never).")] = -1,
    lease_seconds: Annotated[float | None, typer.Option("--lease-seconds")] = None,
    heartbeat_seconds: Annotated[float | None, typer.Option("--heartbeat-seconds")] = None,
    shutdown_grace_seconds: Annotated[float | None, typer.Option("--shutdown-grace-seconds")] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
) -> None:
    """Run a worker until SIGTERM/SIGINT (a second signal stops at once).

    With a server URL (http://host:52710) it signs in as --worker-id with $TREADLE_WORKER_TOKEN.
    """
    configure_logging(log_level)
    modules = split_values(tasks)
    if not modules:
        raise ConfigurationError("name at least one task module with --tasks my_app.tasks")
    if mode not in ("thread", "process"):
        raise ConfigurationError(f"--mode must be thread or process, got {mode!r}")
    sys.path.insert(0, os.getcwd())
    settings = WorkerSettings.from_env().with_changes(
        lease_seconds=lease_seconds, heartbeat_seconds=heartbeat_seconds,
        shutdown_grace_seconds=shutdown_grace_seconds)
    info = parse_json(resource_info, "--resource-info")
    if info is not None and not isinstance(info, dict):
        raise ConfigurationError("--resource-info must be a JSON object")
    target = resolve_url(url)
    remote: dict[str, Any] = dict(resource_info=info, reconnect_interval=reconnect_interval,
                                  max_reconnect_attempts=max_reconnect_attempts) if is_server_url(target) else {}
    w = Worker(target, patterns=split_values(queues), concurrency=concurrency,
               mode=mode,  # type: ignore[arg-type]
               namespace=namespace, worker_id=worker_id, settings=settings, **remote)
    for module in modules:
        if w.registry.add_module(module) == 0:
            raise ConfigurationError(f"module {module} defines no tasks")
    w.run_sync()
    if w.abandoned:
        # Released tasks whose threads cannot be interrupted would keep the interpreter alive.
        logging.getLogger(__name__).warning("exiting with %d task thread(s) still running", w.abandoned)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


@app.command()
@friendly
def submit(
    name: Annotated[str, typer.Argument(help="Task name, e.g. notify.email.v1.")],
    args: Annotated[str | None, typer.Option("--args", help="JSON: an object (keyword arguments) or a list.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result and print it.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="With --wait: give up after this long.")] = None,
    priority: Annotated[int, typer.Option("--priority")] = 0,
    delay: Annotated[float, typer.Option("--delay", help="Seconds before it may start.")] = 0.0,
    key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1)] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object.")] = None,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Submit a task by name and print its id (with --wait: its result)."""
    payload = parse_json(args, "--args")
    meta = parse_json(metadata, "--metadata")
    if meta is not None and not isinstance(meta, dict):
        raise ConfigurationError("--metadata must be a JSON object")
    with open_client(url, namespace) as client:
        builder = client.submit_task(name, payload).priority(priority).delay(delay).metadata(meta)
        if key:
            builder.idempotency_key(key)
        if max_attempts:
            builder.retry_policy(RetryPolicy(max_attempts=max_attempts))
        handle = builder.submit()
        if not wait:
            typer.echo(handle.id)
            return
        result = handle.wait(timeout)
        if result.success:
            typer.echo(orjson.dumps(result.value).decode())
            return
        fail(f"task {handle.id} {result.status.value}: {result.error}")


@app.command()
@friendly
def status(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Show one task: state, attempts, progress, result or errors."""
    with open_client(url, namespace) as client:
        info = client.get(task_id)
    if json:
        typer.echo(output.to_json(info))
    else:
        output.console().print(output.task_detail(info))


@app.command("ls")
@friendly
def list_tasks(
    status: Annotated[list[str] | None, typer.Option("--status", "-s", help="Filter by status (repeatable).")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name pattern, e.g. billing.*")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """List tasks, newest first."""
    statuses = split_values(status)
    bad = [s for s in statuses if s not in {x.value for x in TaskStatus}]
    if bad:
        raise ConfigurationError(f"unknown status {bad[0]!r}; use {', '.join(s.value for s in TaskStatus)}")
    with open_client(url, namespace) as client:
        tasks = client.list(status=statuses or None, name=name, limit=limit)
    console = output.console()
    if json:
        for info in tasks:
            typer.echo(output.to_json(info))
    elif console.is_terminal:
        console.print(output.task_table(tasks))
    else:
        typer.echo(output.task_lines(tasks), nl=False)


@app.command()
@friendly
def cancel(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Cancel a pending task, or ask a running one to stop."""
    with open_client(url, namespace) as client:
        info = client.cancel(task_id)
    if info.status is TaskStatus.RUNNING:
        typer.echo(f"{task_id} running: cancellation requested")
    else:
        typer.echo(f"{task_id} {info.status.value}")


@app.command()
@friendly
def retry(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Re-drive a failed or cancelled task."""
    with open_client(url, namespace) as client:
        info = client.retry(task_id)
    typer.echo(f"{task_id} {info.status.value}")


@app.command()
@friendly
def demo(
    db: Annotated[str, typer.Option("--db", "--url", help="Storage URL or SQLite file for the demo.")] = "treadle.db",
    workers: Annotated[int, typer.Option("--workers", min=1, max=16)] = 2,
) -> None:
    """Start workers, submit a mixed batch, watch it live, and print how each task ended."""
    from .demo import run_demo

    raise typer.Exit(run_demo(db, workers))


def main() -> None:
    """Console-script entry point."""
    app()
