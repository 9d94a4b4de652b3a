"""duroxide's providers, as the treadle storage URLs they stand for.

A provider only names where state lives; `Runtime` and `Client` open their own connections to
it. treadle's `memory://` backend keeps no orchestration history, so `SqliteProvider.in_memory()`
is a private SQLite file in a temporary folder, removed when the provider is garbage-collected
or the process exits.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import ConfigurationError

__all__ = ["PostgresProvider", "Provider", "SqliteProvider", "provider_url"]


class SqliteProvider:
    """A SQLite database: one file shared by every runtime and client of this machine."""

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def open(path: str) -> SqliteProvider:
        """The database in file `path` (created on first use); a `sqlite:///...` URL is taken as is."""
        if not isinstance(path, str) or not path.strip():
            raise ConfigurationError(f"SqliteProvider.open needs a file path, got {path!r}")
        if path.startswith("sqlite://"):
            return SqliteProvider(path)
        return SqliteProvider(f"sqlite:///{path}")

    @staticmethod
    def in_memory() -> SqliteProvider:
        """A private database for this process (a temporary file: orchestrations need a real store)."""
        folder = tempfile.mkdtemp(prefix="treadle-duroxide-")
        provider = SqliteProvider(f"sqlite:///{Path(folder) / 'in-memory.db'}")
        weakref.finalize(provider, shutil.rmtree, folder, ignore_errors=True)
        return provider

    def __repr__(self) -> str:
        return f"SqliteProvider({self.url!r})"


class PostgresProvider:
    """A PostgreSQL database, shared by runtimes and clients on any number of machines."""

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def connect(database_url: str) -> PostgresProvider:
        """The database at `database_url`; tables go to treadle's default schema (`treadle`) unless
        the URL names one with `?schema=`."""
        scheme = database_url.split("://", 1)[0].lower() if isinstance(database_url, str) else ""
        if scheme not in ("postgresql", "postgres") or "://" not in database_url:
            raise ConfigurationError(f"PostgresProvider needs a postgresql:// URL, got {database_url!r}")
        return PostgresProvider(database_url)

    @staticmethod
    def connect_with_schema(database_url: str, schema: str) -> PostgresProvider:
        """The database at `database_url`, with its tables in `schema` (created on first use)."""
        if not isinstance(schema, str) or not schema:
            raise ConfigurationError(f"a schema name is a non-empty string, got {schema!r}")
        parts = urlsplit(PostgresProvider.connect(database_url).url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k not in ("schema", "search_path")]
        return PostgresProvider(urlunsplit(parts._replace(query=urlencode([*query, ("schema", schema)]))))

    def __repr__(self) -> str:
        return f"PostgresProvider({self.url!r})"


Provider = SqliteProvider | PostgresProvider


def provider_url(provider: object) -> str:
    """The storage URL behind a provider; anything else is refused with the way to make one."""
    if isinstance(provider, (SqliteProvider, PostgresProvider)):
        return provider.url
    raise ConfigurationError(f"expected a provider (SqliteProvider.open(path), SqliteProvider.in_memory() or "
                             f"PostgresProvider.connect(url)), got {provider!r}")
