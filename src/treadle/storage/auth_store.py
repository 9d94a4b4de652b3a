"""Credentials and handshake nonces, kept in the same database as the tasks they guard.

The server reads them; `treadle auth` writes them. Keeping them in the database (not in a
server's memory) is what lets several servers on one PostgreSQL accept the same credentials,
notice the same revocations and refuse the same replayed nonces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigurationError

Kind = Literal["client", "worker"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A client's API key (stored hashed) or a worker's secret, bound to one namespace."""

    kind: Kind
    name: str
    namespace: str
    created_at: float
    revoked_at: float | None = None
    secret: str | None = None       # workers only: HMAC needs the secret itself
    key_hash: str | None = None     # clients only

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


def _credential(row: dict[str, Any]) -> Credential:
    return Credential(kind=row["kind"], name=row["name"], namespace=row["namespace"],
                      created_at=float(row["created_at"]),
                      revoked_at=None if row["revoked_at"] is None else float(row["revoked_at"]),
                      secret=row.get("secret"), key_hash=row.get("key_hash"))


class SqlAuthStore(ABC):
    """Credential verbs over a SQL backend's named queries."""

    @abstractmethod
    async def _query(self, name: str, params: dict[str, Any], mode: str = "one", *, write: bool = False) -> Any:
        """Run one named query (see `SqlWorkflowStore._query`)."""

    @abstractmethod
    def _wf_now(self) -> float:
        """The store's clock."""

    async def add_credential(self, kind: Kind, name: str, namespace: str, *, secret: str | None = None,
                             key_hash: str | None = None) -> None:
        """Create a credential; a name that is taken (and not revoked) is refused."""
        params = {"kind": kind, "name": name, "namespace": namespace, "secret": secret, "key_hash": key_hash,
                  "now": self._wf_now()}
        if not await self._query("credential_add", params, "count", write=True):
            raise ConfigurationError(f"a {kind} named {name!r} exists already: revoke it first")

    async def get_credential(self, kind: Kind, name: str) -> Credential | None:
        """The credential of this kind and name, revoked or not."""
        row = await self._query("credential_get", {"kind": kind, "name": name})
        return _credential(row) if row else None

    async def credential_by_key_hash(self, key_hash: str) -> Credential | None:
        """The client whose API key hashes to `key_hash`."""
        row = await self._query("credential_by_key", {"key_hash": key_hash})
        return _credential(row) if row else None

    async def list_credentials(self) -> list[Credential]:
        """Every credential, secrets left out."""
        return [_credential(r) for r in await self._query("credential_list", {}, "all")]

    async def revoke_credential(self, kind: Kind, name: str) -> bool:
        """Revoke a credential; False if there was no active one of that name."""
        params = {"kind": kind, "name": name, "now": self._wf_now()}
        return bool(await self._query("credential_revoke", params, "count", write=True))

    async def revoked_since(self, since: float) -> list[tuple[str, str]]:
        """(kind, name) of credentials revoked at or after `since`."""
        rows = await self._query("credential_revoked_since", {"since": since}, "all")
        return [(r["kind"], r["name"]) for r in rows]

    async def use_nonce(self, worker_id: str, nonce: str, *, prune_before: float) -> bool:
        """Record a handshake nonce; False if it was seen before (a replay). Forgets nonces older than
        `prune_before`, which the timestamp window refuses anyway."""
        await self._query("nonce_prune", {"before": prune_before}, "count", write=True)
        return bool(await self._query("nonce_use", {"worker_id": worker_id, "nonce": nonce, "now": self._wf_now()},
                                      "count", write=True))

    async def queue_depths(self) -> list[tuple[str, str, str, int]]:
        """(namespace, task name, status, count) of pending and running tasks."""
        rows = await self._query("queue_depths", {}, "all")
        return [(r["namespace"], r["name"], r["status"], int(r["n"])) for r in rows]
