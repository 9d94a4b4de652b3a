"""The storage contract and its backends, chosen by URL.

Each backend module is imported when a URL first names it (`open_storage`), so a worker on
PostgreSQL never loads SQLite's and the reverse.
"""

from __future__ import annotations

from .base import Enqueued, Storage
from .memory import MemoryStorage
from .url import DEFAULT_URL, is_server_url, open_storage

__all__ = ["DEFAULT_URL", "Enqueued", "MemoryStorage", "Storage", "is_server_url", "open_storage"]
