"""duroxide's Python names on treadle: `from treadle.compat.duroxide import SqliteProvider, Client, Runtime`.

duroxide-python programs run unchanged but for their imports. The mapping, for moving off the facade:

- `SqliteProvider.open(path)` is the URL `sqlite:///path`; `SqliteProvider.in_memory()` a private
  SQLite file removed when the process exits (treadle's `memory://` keeps no orchestration history);
  `PostgresProvider.connect(url)` is the URL itself, `connect_with_schema(url, schema)` adds `?schema=`.
- `Runtime(provider)` is `treadle.Runtime(url)`; `register_activity(name)` is `@runtime.activity(name)`
  (a plain task, whose input is the activity's one input), `register_orchestration(name)` is
  `@runtime.orchestration(name)`; `start()` / `shutdown()` and `metrics_snapshot()` are the same.
- `Client(provider)` is `treadle.Client(url)` with times in milliseconds; `get_status` is
  `get_orchestration`, `cancel_instance` is `terminate_orchestration`, `delete_instance` is
  `delete_orchestration`, `read_execution_history` is `read_history`, `get_instance_tree` is
  `orchestration_tree`, `get_system_metrics` / `get_queue_depths` are `system_metrics`.
- Orchestration code keeps duroxide's shapes: `yield ctx.all([...])` gives `[{"ok": v} | {"err": e}]`,
  `yield ctx.race(a, b)` gives `{"index": i, "value": v}` (see `orchestration`).

Errors are treadle's: `WaitTimeoutError` when a wait runs out (`wait_for_status_change` returns None
instead, as duroxide documents), `InstanceNotFoundError` for an unknown instance, `ConfigurationError`
for a malformed argument. An instance of an orchestration no runtime registers stays `Running` (its
first decision waits for a runtime that knows it), so waiting for it ends in `WaitTimeoutError`.
"""

from __future__ import annotations

from .client import Client
from .orchestration import OrchestrationContext
from .providers import PostgresProvider, SqliteProvider
from .results import (
    DeleteInstanceResult,
    Event,
    InstanceInfo,
    InstanceTree,
    MetricsSnapshot,
    OrchestrationResult,
    PruneOptions,
    PruneResult,
    QueueDepths,
    SystemMetrics,
)
from .runtime import ActivityContext, Runtime

# duroxide's older spellings, still used in its README
PyPruneOptions = PruneOptions
PyEvent = Event
PyInstanceInfo = InstanceInfo
PyInstanceTree = InstanceTree
PySystemMetrics = SystemMetrics
PyQueueDepths = QueueDepths
PyMetricsSnapshot = MetricsSnapshot

__all__ = [
    "ActivityContext",
    "Client",
    "DeleteInstanceResult",
    "Event",
    "InstanceInfo",
    "InstanceTree",
    "MetricsSnapshot",
    "OrchestrationContext",
    "OrchestrationResult",
    "PostgresProvider",
    "PruneOptions",
    "PruneResult",
    "PyEvent",
    "PyInstanceInfo",
    "PyInstanceTree",
    "PyMetricsSnapshot",
    "PyPruneOptions",
    "PyQueueDepths",
    "PySystemMetrics",
    "QueueDepths",
    "Runtime",
    "SqliteProvider",
    "SystemMetrics",
]
