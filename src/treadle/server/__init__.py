"""The treadle server: a network edge (REST, a worker WebSocket, metrics) over one SQLite or PostgreSQL store."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
