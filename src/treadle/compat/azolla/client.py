"""Azolla's `Client` and `ClientConfig`: treadle's `AsyncClient`, configured the Azolla way.

`endpoint` is any treadle URL: a server (`http://host:52710`, authenticated with
`$TREADLE_API_KEY`) or a database (`sqlite:///app.db`, `postgresql://...`); `domain` is
treadle's namespace. Everything else (`submit_task(...).retry_policy(...).submit()`,
`handle.wait()` with `.success`, `.value` and `.error`) is `AsyncClient` as it is.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...client import AsyncClient
from ...core.records import DEFAULT_NAMESPACE
from ...core.task import TaskLike
from ...errors import ConfigurationError
from ...storage import Storage, is_server_url, open_storage
from ...storage.remote import RemoteStorage


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Where a `Client` connects: `endpoint` (a treadle URL), `domain` (the namespace), `timeout` (seconds
    per request to a server) and `max_message_size` (bytes per message from a server)."""

    endpoint: str = "http://localhost:52710"
    domain: str = DEFAULT_NAMESPACE
    timeout: float = 30.0
    max_message_size: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise ConfigurationError(f"endpoint must be a treadle URL such as http://host:52710, got {self.endpoint!r}")
        if not isinstance(self.domain, str) or not self.domain:
            raise ConfigurationError(f"domain must be a non-empty string, got {self.domain!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) \
                or not 0 < self.timeout < math.inf:
            raise ConfigurationError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if isinstance(self.max_message_size, bool) or not isinstance(self.max_message_size, int) \
                or self.max_message_size < 1024:
            raise ConfigurationError(
                f"max_message_size must be an integer >= 1024 bytes, got {self.max_message_size!r}")


def _storage(config: ClientConfig) -> Storage:
    if not is_server_url(config.endpoint):
        return open_storage(config.endpoint)
    storage = open_storage(config.endpoint, api_key=os.environ.get("TREADLE_API_KEY"), request_timeout=config.timeout)
    if isinstance(storage, RemoteStorage):
        storage.max_message_bytes = config.max_message_size
    return storage


class Client(AsyncClient):
    """A treadle `AsyncClient` made from a `ClientConfig` (or `orchestrator_endpoint=` and friends).

    `await Client.connect(url)` returns it connected; `async with client:` closes it at the end.
    """

    def __init__(self, config: ClientConfig | None = None, *, orchestrator_endpoint: str | None = None,
                 domain: str | None = None, timeout: float | None = None, tasks: Iterable[TaskLike] = ()) -> None:
        if config is None:
            if orchestrator_endpoint is None:
                raise ConfigurationError("Client needs a ClientConfig or orchestrator_endpoint=, "
                                         "e.g. Client(ClientConfig(endpoint='http://localhost:52710'))")
            options: dict[str, Any] = {"domain": domain, "timeout": timeout}
            config = ClientConfig(endpoint=orchestrator_endpoint, **{k: v for k, v in options.items() if v is not None})
        elif not isinstance(config, ClientConfig):
            raise ConfigurationError(f"Client takes a ClientConfig, got {config!r}")
        self.config = config
        super().__init__(_storage(config), namespace=config.domain, tasks=tasks)

    @classmethod
    async def connect(cls, endpoint: str, **options: Any) -> Client:
        """A client for `endpoint`, already connected (`options` are `ClientConfig` fields)."""
        client = cls(ClientConfig(endpoint=endpoint, **options))
        await client.open()
        return client

    async def open(self) -> Client:
        """Connect: open the storage this client made from its config."""
        await self.storage.open()
        await super().open()
        return self

    async def close(self) -> None:
        """Disconnect."""
        await super().close()
        await self.storage.close()

    async def __aenter__(self) -> Client:
        return await self.open()
