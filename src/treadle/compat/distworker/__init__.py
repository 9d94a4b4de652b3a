"""DistWorker's Python SDK names on treadle: `from treadle.compat.distworker import Worker, Task`.

A DistWorker worker connects to a controller over a WebSocket, signs in with an id and a
secret, and runs the handler registered for each task's queue. Here the controller is a
`treadle server` (its `ws://host:port/ws` endpoint), the credentials are those
`treadle auth add-worker NAME` prints, a queue is a task name, and the work itself
(leases, heartbeats, retries, progress, reconnection) is done by treadle's own `Worker`.
"""

from __future__ import annotations

from .task import Task
from .worker import Worker

__all__ = ["Task", "Worker"]
