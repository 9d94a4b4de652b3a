"""`IntentPoller`: a treadle `Worker` under the seed's name, arguments and blocking `start()`/`stop()`.

`type_prefixes` become claim patterns, `poll_interval` the fallback poll (the worker wakes at
once on PostgreSQL's LISTEN/NOTIFY anyway), `lease_duration` the lease, `worker_id` the
worker's id. Each `register_executor` adds a handler for that exact type which runs
`executor.execute(WorkflowRun)` in a worker thread. Leases, heartbeats, retries, cancellation
and shutdown are the worker's own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ...core import serde
from ...core.routing import matches_any, validate_name
from ...engine.context import TaskContext
from ...engine.worker import Worker
from ...errors import ConfigurationError, InvalidStateError, TaskError
from ...settings import WorkerSettings
from .config import PollerOptions
from .metrics import MetricsCollector
from .run import WorkflowExecutor, WorkflowRun

logger = logging.getLogger(__name__)


class IntentPoller:
    """Claims intents whose type matches `type_prefixes` and runs them with the registered executors.

    Arguments left out come from the README's environment variables (`DATABASE_URL`,
    `WORKER_TYPE_PREFIXES`, `WORKER_ID`, `POLL_INTERVAL`, `WORKER_LEASE_DURATION`), then the
    README's defaults; `from_env(environ)` reads another mapping (a parsed `.env` file).
    `concurrency` (a treadle extension) is how many runs execute at once: 1, as in the seed,
    unless the executors are thread-safe.

    Only registered types are claimed: an intent of another type stays pending for a poller
    that can run it, rather than failing here.
    """

    def __init__(self, db_url: str | None = None, type_prefixes: Sequence[str] | None = None,
                 worker_id: str | None = None, poll_interval: float | None = None,
                 lease_duration: float | None = None, metrics: MetricsCollector | None = None,
                 *, concurrency: int = 1) -> None:
        options = PollerOptions.resolve(os.environ, db_url=db_url, type_prefixes=type_prefixes,
                                        worker_id=worker_id, poll_interval=poll_interval,
                                        lease_duration=lease_duration)
        self.db_url = options.db_url
        self.type_prefixes = [p.text for p in options.patterns]
        self.worker_id = options.worker_id
        self.poll_interval = options.poll_interval
        self.lease_duration = options.lease_duration
        self.metrics = metrics
        self.executors: dict[str, WorkflowExecutor] = {}
        self._patterns = options.patterns
        self._started = False
        settings = WorkerSettings(lease_seconds=options.lease_duration, poll_seconds=options.poll_interval,
                                  heartbeat_seconds=min(10.0, options.lease_duration / 3))
        self.worker = Worker(options.db_url, worker_id=options.worker_id, concurrency=concurrency, settings=settings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, metrics: MetricsCollector | None = None,
                 concurrency: int = 1, **overrides: Any) -> IntentPoller:
        """A poller configured by `environ` (default `os.environ`); keyword `overrides` win over it."""
        options = PollerOptions.resolve(os.environ if environ is None else environ,
                                        db_url=overrides.pop("db_url", None),
                                        type_prefixes=overrides.pop("type_prefixes", None),
                                        worker_id=overrides.pop("worker_id", None),
                                        poll_interval=overrides.pop("poll_interval", None),
                                        lease_duration=overrides.pop("lease_duration", None))
        if overrides:
            raise ConfigurationError(f"unknown IntentPoller argument(s): {', '.join(sorted(overrides))}")
        return cls(db_url=options.db_url, type_prefixes=[p.text for p in options.patterns],
                   worker_id=options.worker_id, poll_interval=options.poll_interval,
                   lease_duration=options.lease_duration, metrics=metrics, concurrency=concurrency)

    def register_executor(self, workflow_type: str, executor: WorkflowExecutor) -> None:
        """Run `executor` for intents of exactly `workflow_type`; registering a type again replaces its executor."""
        validate_name(workflow_type, "workflow type")
        if not callable(getattr(executor, "execute", None)):
            raise ConfigurationError(f"executor for {workflow_type} must have an execute(run) method, "
                                     f"got {executor!r}")
        if self._patterns and not matches_any(self._patterns, workflow_type):
            raise ConfigurationError(f"workflow type {workflow_type!r} matches none of this poller's "
                                     f"type_prefixes {self.type_prefixes}: it would never be claimed")
        if workflow_type not in self.executors:
            self.worker.register_handler(workflow_type, self._execute)
        self.executors[workflow_type] = executor
        logger.info("registered executor for workflow type %s", workflow_type,
                    extra={"event": "executor_registered", "workflow_type": workflow_type})

    def start(self) -> None:
        """Poll and execute until `stop()` (or, on the main thread, SIGTERM/SIGINT); blocks, runs once.

        Stopping lets running executions finish (up to 30 s), then hands the rest back to other workers.
        """
        if not self.executors:
            raise ConfigurationError("no executors registered: call register_executor() before start()")
        if self._started:
            raise InvalidStateError("this IntentPoller was already started; create a new one to start again")
        self._started = True
        logger.info("workflow poller %s started, watching type prefixes %s", self.worker_id, self.type_prefixes,
                    extra={"event": "poller_started", "worker_id": self.worker_id})
        self.worker.run_sync(handle_signals=threading.current_thread() is threading.main_thread())

    def stop(self) -> None:
        """Stop polling (thread-safe); `start()` returns once running executions are done."""
        self.worker.stop()

    def _execute(self, ctx: TaskContext) -> Any:
        """The handler of every registered type: one attempt of one intent, in a worker thread."""
        if self.metrics is not None:
            self.metrics.record_intent_claimed(ctx.name, self.worker_id)
        began = time.monotonic()
        try:
            run = WorkflowRun.from_context(ctx)
            result = serde.to_jsonable(self.executors[ctx.name].execute(run),
                                       what=f"the result of workflow run {ctx.task_id}")
        except Exception as exc:
            logger.error("workflow run %s (%s) attempt %d/%d failed: %s", ctx.task_id, ctx.name, ctx.attempt,
                         ctx.max_attempts, exc, exc_info=True,
                         extra={"event": "run_failed", "task_id": ctx.task_id, "workflow_type": ctx.name})
            self._record_failure(ctx, exc, time.monotonic() - began)
            raise
        if self.metrics is not None:
            self.metrics.record_intent_completed(ctx.name, self.worker_id, "succeeded", time.monotonic() - began)
        return result

    def _record_failure(self, ctx: TaskContext, exc: Exception, duration: float) -> None:
        if self.metrics is None:
            return
        final = ctx.attempt >= ctx.max_attempts or (isinstance(exc, TaskError) and not exc.retryable)
        status = "cancelled" if ctx.is_cancelled() else "failed" if final else "pending"
        self.metrics.record_failed_attempt(ctx.name, self.worker_id, ctx.attempt)
        self.metrics.record_intent_completed(ctx.name, self.worker_id, status, duration)
        if status == "failed":
            self.metrics.record_intent_deadletter(ctx.name, self.worker_id)
