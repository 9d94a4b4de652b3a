"""The storage contract and its backends, chosen by URL."""

from __future__ import annotations

from .base import Enqueued, Storage
from .memory import MemoryStorage
from .sqlite import SqliteStorage
from .url import DEFAULT_URL, is_server_url, open_storage

__all__ = ["DEFAULT_URL", "Enqueued", "MemoryStorage", "SqliteStorage", "Storage", "is_server_url", "open_storage"]
