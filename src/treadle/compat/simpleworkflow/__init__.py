"""The simple-workflow worker's names on treadle: `from treadle.compat.simpleworkflow import IntentPoller, ...`.

| simple-workflow | treadle |
| --- | --- |
| `IntentPoller(db_url, type_prefixes, worker_id, ...)` | `Worker(url, worker_id=..., settings=WorkerSettings(...))` |
| `poll_interval`, `lease_duration` | `WorkerSettings(poll_seconds=..., lease_seconds=...)` |
| `poller.register_executor(type, executor)` | `@task(name=type)` or `worker.register_handler(type, fn)` |
| `poller.start()` / `poller.stop()` | `worker.run_sync()` / `worker.stop()` |
| `WorkflowRun.payload` / `.attempt` (from 0) | the task's keyword arguments / `ctx.attempt` (from 1) |
| `run.heartbeat(s)` / `run.is_cancelled()` | `ctx.heartbeat(s)` / `ctx.is_cancelled()` |
| the README's retry schedule | `RETRY_POLICY`, stored with each intent by `IntentClient.submit` |
| `MetricsCollector` | the seed's Prometheus metric names, in a registry of its own |

An intent is a treadle task named by its workflow type whose keyword arguments are the payload;
submit intents with `IntentClient(db_url).submit(type, payload)`, which stores `RETRY_POLICY` with
each (in treadle the submitter, not the worker, chooses the retry schedule). Where the seed and
treadle differ: a poller claims only the types it has executors for (others stay pending for a
poller that has one); a PostgreSQL URL without `search_path` (or treadle's `schema`) is refused
rather than falling back to another schema; a task submitted with positional arguments fails at
once, since an intent's payload is one JSON object.
"""

from __future__ import annotations

from .intents import RETRY_POLICY, IntentClient
from .metrics import MetricsCollector
from .poller import IntentPoller
from .run import WorkflowExecutor, WorkflowRun

__all__ = [
    "RETRY_POLICY",
    "IntentClient",
    "IntentPoller",
    "MetricsCollector",
    "WorkflowExecutor",
    "WorkflowRun",
]
