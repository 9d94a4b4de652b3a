"""Frozen settings objects with units in their names; the environment is read only at the edges (the CLI).

`WorkerSettings.from_env()` is for entry points; library code receives a settings object.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigurationError


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """How a worker leases, heartbeats, polls and shuts down.

    `lease_seconds` is how long a claimed task stays reserved without a heartbeat; a killed
    worker's tasks become claimable that long after its last heartbeat. Heartbeats every
    `heartbeat_seconds` extend it. `poll_seconds` is the fallback poll when no change hint
    arrives; `sweep_seconds` how often expired leases are looked for; `cancel_check_seconds`
    how often running tasks look for cancel requests; `shutdown_grace_seconds` how long a
    stopping worker lets running tasks finish before releasing them.
    """

    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    poll_seconds: float = 1.0
    sweep_seconds: float = 1.0
    cancel_check_seconds: float = 0.5
    shutdown_grace_seconds: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigurationError(f"{f.name} must be a positive number of seconds, got {value!r}")
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ConfigurationError(f"heartbeat_seconds ({self.heartbeat_seconds}) must be shorter than "
                                     f"lease_seconds ({self.lease_seconds})")

    def with_changes(self, **changes: Any) -> WorkerSettings:
        """A copy with some fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "TREADLE_") -> WorkerSettings:
        """Read `TREADLE_LEASE_SECONDS` and friends; a bad value names its key."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for f in fields(cls):
            key = prefix + f.name.upper()
            if key in env:
                try:
                    values[f.name] = float(env[key])
                except ValueError:
                    raise ConfigurationError(f"{key} must be a number of seconds, got {env[key]!r}") from None
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """What `treadle server` allows and how it checks credentials.

    `insecure` serves without authentication (every namespace open to every caller): only for
    a trusted loopback. `max_body_bytes` bounds one request or WebSocket message.
    `signature_window_seconds` is how far a worker's handshake timestamp may be from the
    server's clock; `credential_check_seconds` how soon a revocation takes effect.
    `task_modules` are imported so that submissions are checked against their tasks
    (unknown names and invalid arguments refused at once).
    """

    insecure: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    signature_window_seconds: float = 300.0
    credential_check_seconds: float = 1.0
    task_modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1024:
            raise ConfigurationError(f"max_body_bytes must be an integer >= 1024, got {self.max_body_bytes!r}")
        for name in ("signature_window_seconds", "credential_check_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
