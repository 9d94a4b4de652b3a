"""`azolla-worker`: run one task invocation from the shell, as Azolla's shepherd spawns it.

    azolla-worker --task-id ID --name NAME [--args JSON] [--kwargs JSON] \\
        --shepherd-endpoint URL --task-modules my_app.tasks [my_app.more ...]

It imports the task modules (their `@azolla_task` functions and `Task` classes defined there,
found from the current directory too), leases task ID in namespace `--domain` on the treadle
server or database at URL, runs it and records the outcome there. A server takes the worker's
credentials from `$TREADLE_WORKER_ID` and `$TREADLE_WORKER_TOKEN`; lease and heartbeat timing
from `$TREADLE_LEASE_SECONDS` and friends, as `treadle worker` does. The result is printed as
JSON on stdout; a failed attempt, bad flags, an unknown task name or a task that is not pending
print one line on stderr and exit non-zero (2 for bad flags, 1 otherwise). Logging goes to
stderr at `--log-level` (default WARNING).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ...core import serde
from ...errors import ConfigurationError, TreadleError
from ...settings import WorkerSettings
from ._internal.utils import setup_logging
from .worker import Worker, WorkerExecution, WorkerInvocation


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong flag reported in one line instead of the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see azolla-worker --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="azolla-worker", description="Run one task invocation and report it to treadle.")
    parser.add_argument("--task-id", required=True, help="id of the task to run (it must be pending)")
    parser.add_argument("--name", required=True, help="name of the task, registered by a task module")
    parser.add_argument("--args", default="[]", help="positional arguments as a JSON array")
    parser.add_argument("--kwargs", default="{}", help="keyword arguments as a JSON object")
    parser.add_argument("--shepherd-endpoint", required=True,
                        help="treadle URL to report to: http://host:52710, sqlite:///app.db, postgresql://...")
    parser.add_argument("--task-modules", nargs="*", default=[], help="modules whose tasks to register")
    parser.add_argument("--domain", default=os.environ.get("TREADLE_NAMESPACE", "default"),
                        help="namespace of the task (default: $TREADLE_NAMESPACE, else default)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _report(execution: WorkerExecution) -> int:
    if execution.success:
        print(serde.dumps(execution.value))
        return 0
    error = execution.error
    what = f"{error.error_type}: {error.message}" if error is not None else "no error recorded"
    retry = "" if execution.retry_delay is None else f" (it runs again in {execution.retry_delay:g}s)"
    print(f"error: task {execution.task_id} failed: {what}{retry}", file=sys.stderr)
    return 1


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    options = _parser().parse_args(argv)
    try:
        setup_logging(options.log_level)
        worker = Worker(namespace=options.domain, settings=WorkerSettings.from_env())
        sys.path.insert(0, os.getcwd())      # task modules of the project the command runs in
        for module in options.task_modules:
            if worker.registry.add_module(module) == 0:
                raise ConfigurationError(f"module {module} defines no tasks")
        invocation = WorkerInvocation.from_json(task_id=options.task_id, task_name=options.name,
                                                args_json=options.args, kwargs_json=options.kwargs,
                                                shepherd_endpoint=options.shepherd_endpoint)
        return _report(asyncio.run(worker.run_invocation(invocation)))
    except TreadleError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


def main() -> None:
    """The `azolla-worker` console script."""
    sys.exit(run())


if __name__ == "__main__":
    main()
