"""Prometheus metrics of one server: what passed through it, and the queue as the database sees it.

Counters count what this server handled (submissions it accepted, tasks it leased to its
workers and their outcomes); queue depths are read from the database at each scrape, so
they agree across servers. Each app has its own registry, so several apps in one process
(tests) do not collide.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..core.records import ClaimedTask, Failed, Outcome, Succeeded

_UNKNOWN = "unknown"


class ServerMetrics:
    """The server's metrics, and the leases it handed out (to name and time their outcomes)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.submitted = Counter("treadle_tasks_submitted", "Tasks submitted through this server", ["name"],
                                 registry=r)
        self.started = Counter("treadle_tasks_started", "Attempts leased to this server's workers", ["name"],
                               registry=r)
        self.succeeded = Counter("treadle_tasks_succeeded", "Attempts that succeeded", ["name"], registry=r)
        self.failed = Counter("treadle_tasks_failed", "Tasks that failed for good", ["name"], registry=r)
        self.retried = Counter("treadle_tasks_retried", "Attempts that failed and will be retried", ["name"],
                               registry=r)
        self.cancelled = Counter("treadle_tasks_cancelled", "Attempts that stopped on a cancel request", ["name"],
                                 registry=r)
        self.lease_expiries = Counter("treadle_lease_expiries", "Tasks recovered after their lease expired",
                                      registry=r)
        self.run_seconds = Histogram("treadle_task_run_seconds", "Seconds from lease to outcome", ["name"],
                                     registry=r, buckets=(.001, .005, .01, .05, .1, .5, 1, 5, 10, 60, 300, 3600))
        self.queue_depth = Gauge("treadle_queue_depth", "Pending and running tasks", ["namespace", "name", "status"],
                                 registry=r)
        self.connected_workers = Gauge("treadle_connected_workers", "Worker connections to this server",
                                       registry=r)
        self._leases: dict[str, tuple[str, float]] = {}

    def leased(self, tasks: list[ClaimedTask]) -> None:
        """Count attempts handed to a worker and remember them until their outcome."""
        now = time.monotonic()
        for task in tasks:
            self.started.labels(task.name).inc()
            self._leases[task.lease.token] = (task.name, now)
        if len(self._leases) > 1_000_000:      # outcomes that never came (lost leases): forget them
            self._leases.clear()

    def finished(self, outcomes: list[Outcome], recorded: list[bool]) -> None:
        """Count recorded outcomes by kind and task name."""
        now = time.monotonic()
        for outcome, ok in zip(outcomes, recorded, strict=False):
            name, started = self._leases.pop(outcome.lease.token, (_UNKNOWN, None))
            if not ok:
                continue
            if started is not None:
                self.run_seconds.labels(name).observe(now - started)
            if isinstance(outcome, Succeeded):
                self.succeeded.labels(name).inc()
            elif isinstance(outcome, Failed):
                (self.retried if outcome.retry_delay is not None else self.failed).labels(name).inc()
            else:
                self.cancelled.labels(name).inc()

    def released(self, tokens: list[str]) -> None:
        """Forget leases given back unstarted."""
        for token in tokens:
            self._leases.pop(token, None)

    def set_depths(self, depths: list[tuple[str, str, str, int]]) -> None:
        """Replace the queue-depth gauge with a fresh reading."""
        self.queue_depth.clear()
        for namespace, name, status, n in depths:
            self.queue_depth.labels(namespace, name, status).set(n)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

