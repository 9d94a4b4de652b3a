"""`MetricsCollector`: the seed's Prometheus metrics of workflow runs, under the seed's metric names.

Keeping the names (`workflow_run_claimed_total`, `workflow_run_completed_total`, ...) keeps
existing dashboards and alerts working. `prometheus_client` comes with `treadle[server]`; it
is imported only when a collector is made, so the poller itself does not need it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_LABELS = ["workflow_type", "worker_id"]
_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300]


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError("MetricsCollector needs prometheus_client: pip install 'treadle[server]' "
                                 "(or pip install prometheus-client)") from None
    return prometheus_client


class MetricsCollector:
    """Counts claimed, completed (by status) and permanently failed runs, and their durations, by workflow type.

    Metrics are kept in `registry` (a fresh `CollectorRegistry` unless you pass one, e.g.
    `prometheus_client.REGISTRY` to serve them with your application's own). Expose them with
    `start_http_server(port)` or `exposition()`. The poller calls the `record_*` methods; a
    subclass may override them to send the same events elsewhere.

    A run's `status` is `succeeded`, `pending` (it failed and will be retried), `failed` (it
    failed for good) or `cancelled`.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        prometheus = _prometheus()
        self.registry: CollectorRegistry = registry if registry is not None else prometheus.CollectorRegistry()
        counter, histogram = prometheus.Counter, prometheus.Histogram
        self.run_claimed_total = counter("workflow_run_claimed_total", "Total workflow runs claimed",
                                         _LABELS, registry=self.registry)
        self.run_completed_total = counter("workflow_run_completed_total", "Total workflow runs completed",
                                           [*_LABELS, "status"], registry=self.registry)
        self.run_failed_total = counter("workflow_run_failed_total", "Total workflow runs that permanently failed",
                                        _LABELS, registry=self.registry)
        self.run_failed_attempts = counter("workflow_run_failed_attempts_total",
                                           "Total failed workflow attempts before permanent failure",
                                           [*_LABELS, "attempt"], registry=self.registry)
        self.run_execution_duration = histogram("workflow_run_execution_duration_seconds",
                                                "Workflow run execution duration", [*_LABELS, "status"],
                                                buckets=_BUCKETS, registry=self.registry)

    def record_intent_claimed(self, workflow_type: str, worker_id: str) -> None:
        """A worker claimed a run and is about to execute it."""
        self.run_claimed_total.labels(workflow_type=workflow_type, worker_id=worker_id).inc()

    def record_intent_completed(self, workflow_type: str, worker_id: str, status: str, duration: float) -> None:
        """An attempt ended with `status` after `duration` seconds."""
        self.run_completed_total.labels(workflow_type=workflow_type, worker_id=worker_id, status=status).inc()
        self.run_execution_duration.labels(workflow_type=workflow_type, worker_id=worker_id,
                                           status=status).observe(duration)

    def record_intent_deadletter(self, workflow_type: str, worker_id: str) -> None:
        """A run failed for good: no attempts left, or an error that retrying cannot fix."""
        self.run_failed_total.labels(workflow_type=workflow_type, worker_id=worker_id).inc()

    def record_failed_attempt(self, workflow_type: str, worker_id: str, attempt_number: int) -> None:
        """Attempt `attempt_number` (from 1) raised; attempts past the second share the label `3+`."""
        label = str(attempt_number) if attempt_number in (1, 2) else "3+"
        self.run_failed_attempts.labels(workflow_type=workflow_type, worker_id=worker_id, attempt=label).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, for serving from your own web application."""
        return bytes(_prometheus().generate_latest(self.registry))

    def start_http_server(self, port: int, addr: str = "127.0.0.1") -> tuple[Any, threading.Thread]:
        """Serve `/metrics` on `addr:port` in a background thread; port 0 picks a free one.

        Returns prometheus_client's `(server, thread)`: `server.server_port` is the bound port and
        `server.shutdown()` then `server.server_close()` stop it. Binds to loopback unless told otherwise.
        """
        server, thread = _prometheus().start_http_server(port, addr=addr, registry=self.registry)
        return server, thread
