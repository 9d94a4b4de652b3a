"""Where a DistWorker worker finds its controller and credentials: its arguments, then `DISTWORKER_*` variables.

The facade is an entry point (a worker process's own configuration), so this is where the
environment is read, as treadle's CLI reads `TREADLE_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ...errors import ConfigurationError

URL_VARIABLE = "DISTWORKER_CONTROLLER_URL"
ID_VARIABLE = "DISTWORKER_WORKER_ID"
TOKEN_VARIABLE = "DISTWORKER_WORKER_TOKEN"
VARIABLES = {"controller_url": URL_VARIABLE, "worker_id": ID_VARIABLE, "worker_token": TOKEN_VARIABLE}

_STANDARD_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


@dataclass(frozen=True, slots=True)
class Connection:
    """The treadle server to sign in to and the credential to sign in with."""

    url: str
    worker_id: str
    worker_token: str


def resolve(controller_url: str | None, worker_id: str | None, worker_token: str | None,
            environ: Mapping[str, str] | None = None) -> Connection:
    """Fill missing arguments from the environment; say which are still missing, and how to give them."""
    env = os.environ if environ is None else environ
    arguments = {"controller_url": controller_url, "worker_id": worker_id, "worker_token": worker_token}
    given = {name: value or env.get(VARIABLES[name]) for name, value in arguments.items()}
    missing = [name for name, value in given.items() if not value]
    if missing:
        how = ", ".join(f"{name}= (or ${VARIABLES[name]})" for name in missing)
        hints = []
        if "controller_url" in missing:
            hints.append("the controller is a treadle server's WebSocket, e.g. ws://localhost:52710/ws")
        if set(missing) - {"controller_url"}:
            hints.append("`treadle auth add-worker NAME` creates a worker id and prints its token")
        raise ConfigurationError("; ".join([f"a DistWorker worker needs {how}", *hints]))
    for name in VARIABLES:
        if not isinstance(given[name], str):
            raise ConfigurationError(f"{name} must be a string, got {given[name]!r}")
    return Connection(server_url(str(given["controller_url"])), str(given["worker_id"]), str(given["worker_token"]))


def server_url(controller_url: str) -> str:
    """The treadle server URL for a DistWorker controller URL such as `ws://localhost:8080/ws`.

    treadle reads `ws(s)://host:port/ws` and `http(s)://host:port` itself; what differs is a URL
    without a port, which treadle takes to mean its own port 52710 but a WebSocket URL means the
    standard port (80, or 443 for wss), so the facade writes that port out.
    """
    parts = urlsplit(controller_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _STANDARD_PORTS or not parts.hostname:
        raise ConfigurationError(f"controller_url must be the WebSocket URL of a treadle server, like "
                                 f"ws://localhost:52710/ws; got {controller_url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"controller_url {controller_url!r} has an invalid port") from None
    if port is not None:
        return urlunsplit(parts)
    netloc = f"{parts.netloc.rstrip(':')}:{_STANDARD_PORTS[scheme]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
