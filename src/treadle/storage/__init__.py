"""The storage contract and its backends, chosen by URL."""

from __future__ import annotations

from .base import Enqueued, Storage
from .url import DEFAULT_URL, open_storage

__all__ = ["DEFAULT_URL", "Enqueued", "Storage", "open_storage"]
