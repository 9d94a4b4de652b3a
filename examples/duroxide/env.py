"""Where the examples keep their state: the README's provider, unless `$DUROXIDE_URL` names another."""

from __future__ import annotations

import os

from treadle.compat.duroxide import PostgresProvider, SqliteProvider


def provider_from_env() -> SqliteProvider | PostgresProvider | None:
    """The provider `$DUROXIDE_URL` names (a postgresql:// or sqlite:/// URL), or None when it is unset."""
    url = os.environ.get("DUROXIDE_URL")
    if not url:
        return None
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresProvider.connect(url)
    return SqliteProvider.open(url)


def treadle_url() -> str:
    """The storage URL of treadle's own versions: `$TREADLE_URL`, or a file in the current folder."""
    return os.environ.get("TREADLE_URL", "sqlite:///duroxide-examples.db")
