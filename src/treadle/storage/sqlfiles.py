"""Named queries and numbered migrations, read from the `sql/<dialect>/` files shipped with the package."""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load_queries(dialect: str) -> dict[str, str]:
    """Parse `sql/<dialect>/queries.sql` into {name: statement}, split on `-- name: x` headers."""
    text = resources.files(__package__).joinpath("sql", dialect, "queries.sql").read_text()
    parts = _NAME.split(text)
    queries = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        queries[name] = body.strip().rstrip(";")
    return queries


def load_migrations(dialect: str) -> list[tuple[int, str, str]]:
    """The `sql/<dialect>/migrations/NNNN_name.sql` files as (version, name, script), in order."""
    folder = resources.files(__package__).joinpath("sql", dialect, "migrations")
    out = []
    for entry in folder.iterdir():
        match = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if match:
            out.append((int(match.group(1)), match.group(2), entry.read_text()))
    out.sort()
    versions = [v for v, _, _ in out]
    if versions != list(range(1, len(out) + 1)):
        raise RuntimeError(f"migrations for {dialect} are not numbered 1..n: {versions}")
    return out
