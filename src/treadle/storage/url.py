"""Pick and configure a backend from a URL: `sqlite:///path.db` (or a bare file path),
`postgresql://user@host/db` (also `postgres://`; needs the `postgres` extra), or `memory://`."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from ..core.clock import Clock
from ..errors import ConfigurationError
from .base import Storage
from .memory import MemoryStorage
from .sqlite import SqliteStorage

DEFAULT_URL = "sqlite:///treadle.db"


def _sqlite(url: str, clock: Clock | None) -> SqliteStorage:
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


def open_storage(url: str, *, clock: Clock | None = None) -> Storage:
    """The backend for `url`, not yet opened (call `await storage.open()`)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("a storage URL is required, e.g. sqlite:///treadle.db")
    scheme = url.split("://", 1)[0].lower() if "://" in url else "sqlite"
    if scheme == "sqlite":
        return _sqlite(url, clock)
    if scheme == "memory":
        return MemoryStorage(clock=clock)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, clock)
    raise ConfigurationError(
        f"unsupported storage URL {url!r}: use sqlite:///path.db, postgresql://user@host/db or memory://")
