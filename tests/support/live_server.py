"""A real treadle server on loopback, in a thread of the test process (so it can share a FrozenClock)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

from treadle.server import create_app
from treadle.settings import ServerSettings
from treadle.storage import Storage


def free_port() -> int:
    """A loopback port nobody listens on now (for a server started as a separate process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Serves `storage` on 127.0.0.1 (a free port) until `stop()`."""

    def __init__(self, storage: Storage, settings: ServerSettings | None = None, port: int = 0) -> None:
        self.app = create_app(storage, settings or ServerSettings(insecure=True))
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                ws_max_size=(settings or ServerSettings()).max_body_bytes, ws_ping_interval=20)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve())
        except BaseException as exc:  # reported by start()
            self.error = exc

    def start(self, timeout: float = 20.0) -> LiveServer:
        self.thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self.server.started or self.error is not None or not self.thread.is_alive():
                break
            deadline.wait(0.01)
        if not self.server.started:
            raise RuntimeError(f"the server did not start: {self.error!r}")
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Any:
        return self.app.state.treadle

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
