"""The poller's settings as the README gives them: arguments first, then the README's environment variables.

The seed reads `DATABASE_URL`, `WORKER_ID`, `WORKER_TYPE_PREFIXES` (comma-separated),
`WORKER_LEASE_DURATION` and `POLL_INTERVAL`; each fills only an argument left out, and a bad
value is refused with the variable's name, so a typo in a `.env` file never starts a worker
with silently different settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ...core.routing import Pattern, parse_patterns
from ...errors import ConfigurationError

DEFAULT_WORKER_ID = "python-worker"
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_LEASE_DURATION = 30.0
_POSTGRES_SCHEMES = ("postgres", "postgresql")


def check_db_url(db_url: object) -> str:
    """The URL, refused when it is not a string or is a PostgreSQL URL without its schema.

    The README says the URL "must include `search_path`": the tables live in that schema, and a
    worker that silently fell back to another schema would wait for intents nobody submits there.
    treadle's own `?schema=` is accepted too (and wins when both are given).
    """
    if not isinstance(db_url, str) or not db_url.strip():
        raise ConfigurationError(f"db_url must be a database URL such as "
                                 f"postgres://user:pass@host/db?search_path=workflow, got {db_url!r}")
    parts = urlsplit(db_url)
    if parts.scheme.lower() in _POSTGRES_SCHEMES:
        options = parse_qs(parts.query, keep_blank_values=True)
        if not any(v and v[-1] for k, v in options.items() if k in ("search_path", "schema")):
            raise ConfigurationError("db_url must include the search_path parameter naming the workflow schema, "
                                     "e.g. postgres://user:pass@host/db?search_path=workflow")
    return db_url


def positive_seconds(name: str, value: object) -> float:
    """A positive, finite number of seconds; `name` is the argument or variable that gave it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def type_patterns(value: object, name: str = "type_prefixes") -> tuple[Pattern, ...]:
    """The claim patterns (`billing.%`, `notify.*`) from a list of strings; a bare string is a mistake."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(f"{name} must be a list of type patterns such as ['notify.%'], got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"{name} must hold non-empty strings such as 'notify.%', got {item!r}")
    return parse_patterns(tuple(value))


def _env_seconds(environ: Mapping[str, str], key: str, default: float) -> float:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        return positive_seconds(key, float(raw))
    except ValueError:
        raise ConfigurationError(f"{key} must be a positive number of seconds, got {raw!r}") from None


def _env_prefixes(environ: Mapping[str, str]) -> tuple[Pattern, ...]:
    raw = environ.get("WORKER_TYPE_PREFIXES")
    if raw is None:
        return ()
    prefixes = [p.strip() for p in raw.split(",") if p.strip()]
    if not prefixes:
        raise ConfigurationError(f"WORKER_TYPE_PREFIXES must list type patterns such as "
                                 f"'billing.%,payment.%', got {raw!r}")
    return type_patterns(prefixes, "WORKER_TYPE_PREFIXES")


@dataclass(frozen=True, slots=True, kw_only=True)
class PollerOptions:
    """Everything an `IntentPoller` needs, validated: where, what to claim, who it is, how it times."""

    db_url: str
    patterns: tuple[Pattern, ...]
    worker_id: str
    poll_interval: float
    lease_duration: float

    @classmethod
    def resolve(cls, environ: Mapping[str, str], *, db_url: str | None, type_prefixes: Sequence[str] | None,
                worker_id: str | None, poll_interval: float | None,
                lease_duration: float | None) -> PollerOptions:
        """Arguments where given, else the environment variable, else the README's default."""
        url = db_url if db_url is not None else environ.get("DATABASE_URL", "").strip()
        if db_url is None and not url:
            raise ConfigurationError("no database: pass db_url or set DATABASE_URL "
                                     "(e.g. postgres://user:pass@host/db?search_path=workflow)")
        if worker_id is not None and (not isinstance(worker_id, str) or not worker_id.strip()):
            raise ConfigurationError(f"worker_id must be a non-empty string, got {worker_id!r}")
        return cls(
            db_url=check_db_url(url),
            patterns=type_patterns(type_prefixes) if type_prefixes is not None else _env_prefixes(environ),
            worker_id=worker_id or environ.get("WORKER_ID", "").strip() or DEFAULT_WORKER_ID,
            poll_interval=(positive_seconds("poll_interval", poll_interval) if poll_interval is not None
                           else _env_seconds(environ, "POLL_INTERVAL", DEFAULT_POLL_INTERVAL)),
            lease_duration=(positive_seconds("lease_duration", lease_duration) if lease_duration is not None
                            else _env_seconds(environ, "WORKER_LEASE_DURATION", DEFAULT_LEASE_DURATION)),
        )
