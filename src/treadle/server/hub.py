"""The server's open WebSocket connections, and the change hints pushed to them.

One watcher per kind of change (new work, finished tasks, changed instances) waits on the
store and tells every connection subscribed to that kind. Hints are coalesced per
connection: a burst of a thousand submissions sends a handful of messages, and each tells
the worker to look, not what to take (pushes are hints; the store is the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from starlette.websockets import WebSocket

from ..storage.base import Storage
from ..storage.changes import ALL
from .auth import Principal

logger = logging.getLogger("treadle.server")

_RECENT_SUBMISSIONS = 1024     # per connection: a client waits for what it just submitted, if at all


class Connection:
    """One WebSocket: who is on it, what it listens to, and a lock so messages never interleave."""

    def __init__(self, ws: WebSocket, principal: Principal, worker_id: str | None, resource_info: dict[str, Any],
                 kinds: str) -> None:
        self.ws = ws
        self.principal = principal
        self.worker_id = worker_id
        self.resource_info = resource_info
        self.kinds = kinds
        self.connected_at = time.time()
        self.address = f"{ws.client.host}:{ws.client.port}" if ws.client else None
        self._lock = asyncio.Lock()
        self._submitted: dict[str, int] = {}    # task id -> change token before its submission (recent ones)
        self._pending: set[str] = set()
        self._pusher: asyncio.Task[None] | None = None
        self.closed = False

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message (dropped if the connection is gone)."""
        data = orjson.dumps(message).decode()
        async with self._lock:
            if not self.closed:
                try:
                    await self.ws.send_text(data)
                except Exception:        # the peer went away: the reader notices and cleans up
                    self.closed = True

    def submitted(self, task_id: str, token: int) -> None:
        """Remember that this peer just submitted `task_id` (its first read can wait for a change)."""
        if len(self._submitted) >= _RECENT_SUBMISSIONS:
            del self._submitted[next(iter(self._submitted))]      # the oldest
        self._submitted[task_id] = token

    def submitted_since(self, task_id: str) -> int | None:
        """The token remembered for `task_id` by `submitted`, once (a later read reads at once)."""
        return self._submitted.pop(task_id, None)

    def hint(self, kind: str) -> None:
        """Tell the peer that `kind` changed (coalesced with hints not yet sent)."""
        if kind not in self.kinds or self.closed:
            return
        self._pending.add(kind)
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push())

    async def _push(self) -> None:
        while self._pending and not self.closed:
            kinds, self._pending = "".join(sorted(self._pending)), set()
            await self.send({"type": "changed", "kinds": kinds})

    async def close(self, code: int, reason: str) -> None:
        """Close with a code and a reason the peer can show."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason[:120])


class Hub:
    """Connections of this server and the watchers that feed them hints."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.connections: set[Connection] = set()
        self._watchers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one watcher per kind of change."""
        self._watchers = [asyncio.create_task(self._watch(kind)) for kind in ALL]

    async def stop(self) -> None:
        """Stop watching and close every connection (clients reconnect to another server)."""
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for conn in list(self.connections):
            await conn.close(1012, "server shutting down")

    async def _watch(self, kind: str) -> None:
        while True:
            try:
                token = self.storage.change_token(kind)
                while True:
                    seen = await self.storage.wait_for_change(token, 30.0, kind)
                    if seen != token:
                        for conn in list(self.connections):
                            conn.hint(kind)
                    token = seen
            except asyncio.CancelledError:
                raise
            except Exception as exc:      # the store is down: keep watching once it is back
                logger.warning("change watcher for %r failed: %s", kind, exc)
                await asyncio.sleep(1.0)
