"""Credentials and signatures for the server's edge: API keys, worker secrets, HMAC-SHA256 handshakes.

A worker proves it holds its secret without sending it: it signs (worker id, timestamp, nonce)
with HMAC-SHA256. The server refuses a signature that does not match, a timestamp outside a
small window (so a captured handshake soon goes stale) and a nonce it has seen (so it cannot be
replayed inside the window). API keys are long random strings kept by the server only as their
SHA-256. Every comparison of secrets is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "tdk_"
WORKER_SECRET_PREFIX = "tdw_"
DEFAULT_WINDOW_SECONDS = 300.0


def new_api_key() -> str:
    """A fresh client API key (256 random bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_worker_secret() -> str:
    """A fresh worker secret (256 random bits)."""
    return WORKER_SECRET_PREFIX + secrets.token_urlsafe(32)


def new_nonce() -> str:
    """A handshake nonce (128 random bits)."""
    return secrets.token_hex(16)


def hash_key(api_key: str) -> str:
    """What the server stores of an API key: its SHA-256, hex."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def signing_message(worker_id: str, timestamp: float, nonce: str) -> bytes:
    """The bytes a worker signs; fields are joined by a newline, which none of them may hold."""
    return f"{worker_id}\n{timestamp!r}\n{nonce}".encode()


def sign(secret: str, worker_id: str, timestamp: float, nonce: str) -> str:
    """HMAC-SHA256 of the handshake fields under the worker's secret, hex."""
    return hmac.new(secret.encode(), signing_message(worker_id, timestamp, nonce), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two secrets or digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def check_signature(secret: str, worker_id: str, timestamp: float, nonce: str, signature: str, *,
                    now: float, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> str | None:
    """Why a handshake is refused, or None if its signature and timestamp are good (the nonce is the
    caller's to check against those it has seen)."""
    if "\n" in worker_id or "\n" in nonce or not 16 <= len(nonce) <= 128:
        return "malformed handshake: the nonce must be 16 to 128 characters and no field may contain a newline"
    if abs(now - timestamp) > window_seconds:
        return (f"handshake timestamp is {now - timestamp:+.0f}s off the server's clock "
                f"(allowed: {window_seconds:.0f}s); check the worker's clock")
    if not same(sign(secret, worker_id, timestamp, nonce), signature):
        return "bad signature: the worker secret is wrong"
    return None
