"""Pick and configure a backend from a URL: `sqlite:///path.db` (or a bare file path),
`postgresql://user@host/db` (also `postgres://`; needs the `postgres` extra), `memory://`, or a
treadle server: `http(s)://host:52710` or `ws(s)://host:52710/ws` (needs the `server` extra)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..core.clock import Clock
from ..errors import ConfigurationError
from .base import Storage
from .memory import MemoryStorage

DEFAULT_URL = "sqlite:///treadle.db"


def _sqlite(url: str, clock: Clock | None) -> Storage:
    from .sqlite import SqliteStorage

    if "://" not in url:
        return SqliteStorage(url, clock=clock)
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigurationError(f"invalid SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db")
    path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"synchronous", "busy_timeout_ms"}
    if unknown:
        raise ConfigurationError(f"unknown SQLite URL option(s): {', '.join(sorted(unknown))}")
    try:
        busy = int(options.get("busy_timeout_ms", "30000"))
    except ValueError:
        raise ConfigurationError(f"busy_timeout_ms must be an integer, got {options['busy_timeout_ms']!r}") from None
    return SqliteStorage(path, clock=clock, synchronous=options.get("synchronous", "FULL"), busy_timeout_ms=busy)


def _postgres(url: str, clock: Clock | None) -> Storage:
    try:
        from .postgres import PostgresStorage
    except ImportError:
        raise ConfigurationError("PostgreSQL needs the extra: pip install 'treadle[postgres]'") from None
    return PostgresStorage(url, clock=clock)


def _remote(url: str, options: dict[str, Any]) -> Storage:
    try:
        import httpx  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        raise ConfigurationError("a treadle server URL needs the extra: pip install 'treadle[server]'") from None
    from .remote import RemoteStorage

    return RemoteStorage(url, **options)


def is_server_url(url: object) -> bool:
    """Whether `url` names a treadle server rather than a database."""
    return isinstance(url, str) and url.split("://", 1)[0].lower() in ("http", "https", "ws", "wss")


REMOTE_OPTIONS = frozenset({"api_key", "worker_id", "worker_token", "resource_info", "reconnect_interval",
                            "max_reconnect_attempts", "request_timeout"})


def open_storage(url: str, *, clock: Clock | None = None, **remote: Any) -> Storage:
    """The backend for `url`, not yet opened (call `await storage.open()`).

    `remote` options (`api_key`, `worker_id`, `worker_token`, `resource_info`, `reconnect_interval`,
    `max_reconnect_attempts`, `request_timeout`) configure a server URL; None values are ignored.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("a storage URL is required, e.g. sqlite:///treadle.db")
    unknown = set(remote) - REMOTE_OPTIONS
    if unknown:
        raise ConfigurationError(f"unknown storage option(s): {', '.join(sorted(unknown))}")
    options = {k: v for k, v in remote.items() if v is not None}
    scheme = url.split("://", 1)[0].lower() if "://" in url else "sqlite"
    if scheme in ("http", "https", "ws", "wss"):
        if clock is not None:
            raise ConfigurationError("a server URL takes its time from the server; it has no clock option")
        return _remote(url, options)
    if options:
        raise ConfigurationError(f"{', '.join(sorted(options))} apply to a treadle server URL (http://host:52710), "
                                 f"not to {scheme}://")
    if scheme == "sqlite":
        return _sqlite(url, clock)
    if scheme == "memory":
        return MemoryStorage(clock=clock)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, clock)
    raise ConfigurationError(
        f"unsupported storage URL {url!r}: use sqlite:///path.db, postgresql://user@host/db, "
        "http://host:52710 (a treadle server) or memory://")
