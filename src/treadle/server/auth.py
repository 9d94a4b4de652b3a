"""Who is calling: API keys for clients, HMAC-signed handshakes for workers, and the namespace each may touch.

A credential belongs to one namespace. Every request names the namespace it is about (in
the URL, and inside batched items and nested commands); one that is not the credential's is
answered exactly as a namespace that does not exist, so a credential learns nothing about
others. Revocations are read from the database every `credential_check_seconds`, so every
server sharing it drops revoked connections within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..core import signing
from ..errors import AuthenticationError, TreadleError
from ..settings import ServerSettings
from ..storage.auth_store import Credential, SqlAuthStore


class NamespaceNotFound(TreadleError):
    """The request names a namespace the credential does not belong to (or that does not exist)."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f"no namespace {namespace!r}")


class PermissionDenied(TreadleError):
    """The credential is valid but not for this kind of operation (a client key cannot lease tasks)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; `namespace` None means any (a server started with --insecure)."""

    kind: str          # "client", "worker" or "anyone"
    name: str
    namespace: str | None

    def scope(self, namespace: Any) -> str:
        """`namespace` if this caller may touch it; `NamespaceNotFound` otherwise."""
        if not isinstance(namespace, str) or not namespace or len(namespace) > 200:
            raise NamespaceNotFound(str(namespace)[:200])
        if self.namespace is not None and namespace != self.namespace:
            raise NamespaceNotFound(namespace)
        return namespace

    @property
    def may_work(self) -> bool:
        """Whether this caller may lease and finish tasks."""
        return self.kind in ("worker", "anyone")

    @property
    def may_submit(self) -> bool:
        """Whether this caller may submit and read tasks (an API key, as on the REST API)."""
        return self.kind in ("client", "anyone")


ANYONE = Principal("anyone", "anonymous", None)


class Authenticator:
    """Checks credentials against the store; caches API keys for at most `credential_check_seconds`."""

    def __init__(self, store: Any, settings: ServerSettings) -> None:
        self.settings = settings
        self.store: SqlAuthStore | None = store if isinstance(store, SqlAuthStore) else None
        self._keys: dict[str, tuple[Credential, float]] = {}

    async def client(self, authorization: str | None) -> Principal:
        """The client an `Authorization: Bearer <key>` header proves; `AuthenticationError` otherwise."""
        if self.settings.insecure:
            return ANYONE
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise AuthenticationError("missing API key: send the header 'Authorization: Bearer <key>'")
        return await self.api_key(authorization[7:].strip())

    async def api_key(self, key: str) -> Principal:
        """The client holding `key`."""
        if self.settings.insecure:
            return ANYONE
        key_hash = signing.hash_key(key)
        now = time.monotonic()
        cached = self._keys.get(key_hash)
        if cached is None or now - cached[1] > self.settings.credential_check_seconds:
            credential = await self._store().credential_by_key_hash(key_hash)
            if credential is None:
                raise AuthenticationError("unknown API key")
            cached = (credential, now)
            self._keys[key_hash] = cached
            if len(self._keys) > 10_000:
                self._keys.clear()
        credential = cached[0]
        if credential.key_hash is None or not signing.same(credential.key_hash, key_hash):
            raise AuthenticationError("unknown API key")
        if not credential.active:
            raise AuthenticationError(f"API key of client {credential.name!r} was revoked")
        return Principal("client", credential.name, credential.namespace)

    async def worker(self, worker_id: Any, timestamp: Any, nonce: Any, signature: Any) -> Principal:
        """The worker a signed handshake proves; `AuthenticationError` with the reason otherwise."""
        if self.settings.insecure:      # anyone may do anything, as on the REST API
            return Principal("anyone", str(worker_id or "anonymous"), None)
        if not all(isinstance(v, str) and v for v in (worker_id, nonce, signature)) \
                or not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
            raise AuthenticationError("a worker handshake needs worker_id, timestamp, nonce and signature")
        credential = await self._store().get_credential("worker", worker_id)
        if credential is None or credential.secret is None:
            raise AuthenticationError(f"unknown worker {worker_id!r}")
        if not credential.active:
            raise AuthenticationError(f"worker {worker_id!r} was revoked")
        now = time.time()
        reason = signing.check_signature(credential.secret, worker_id, float(timestamp), nonce, signature,
                                         now=now, window_seconds=self.settings.signature_window_seconds)
        if reason is not None:
            raise AuthenticationError(reason)
        fresh = await self._store().use_nonce(worker_id, nonce,
                                              prune_before=now - 2 * self.settings.signature_window_seconds)
        if not fresh:
            raise AuthenticationError("replayed handshake: this nonce was used before")
        return Principal("worker", worker_id, credential.namespace)

    async def revoked_since(self, since: float) -> list[tuple[str, str]]:
        """Credentials revoked at or after `since` (store time)."""
        if self.store is None:
            return []
        revoked = await self.store.revoked_since(since)
        if revoked:
            self._keys.clear()
        return revoked

    def _store(self) -> SqlAuthStore:
        if self.store is None:
            raise AuthenticationError("this storage keeps no credentials: start the server with --insecure")
        return self.store
