"""Task ids: UUIDv7 strings, so ids sort by creation time and index well."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A new RFC 9562 version-7 UUID (48-bit millisecond timestamp, 74 random bits)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)          # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)          # RFC 4122 variant
    return str(uuid.UUID(int=value))


def new_token() -> str:
    """A random lease token: unguessable, so only the holder of a lease can act on it."""
    return os.urandom(16).hex()
