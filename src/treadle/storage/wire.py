"""The JSON forms of the storage contract's values, shared by the remote backend and the server.

Both sides use the same Pydantic adapters over the contract's own dataclasses, so a value
crosses the network exactly as it crosses a function call: the server validates everything
it receives (types, required fields) before any of it reaches a store, and a malformed
value is a `WireError` naming the field, never a half-applied write.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from .. import errors as E
from ..core.records import Cancelled, ClaimedTask, Failed, Handoff, Outcome, Succeeded
from ..errors import TreadleError
from ..workflow import history as h
from .wf_steps import DecisionCommit

T = TypeVar("T")
_OUTCOMES: dict[str, type[Any]] = {"succeeded": Succeeded, "failed": Failed, "cancelled": Cancelled}
_OUTCOME_KINDS = {cls: kind for kind, cls in _OUTCOMES.items()}
MAX_ERROR_ITEMS = 5


class WireError(TreadleError):
    """A value received over the network does not have the contract's shape."""


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def adapter(cls: Any) -> TypeAdapter[Any]:
    """The (cached) Pydantic adapter of one contract type."""
    found = _ADAPTERS.get(cls)
    if found is None:
        found = _ADAPTERS[cls] = TypeAdapter(cls)
    return found


def dump(value: Any, cls: Any = None) -> Any:
    """The JSON-ready form of a contract value (a dataclass, or a list of them with `cls` = list[...])."""
    return adapter(cls if cls is not None else type(value)).dump_python(value, mode="json")


def describe(exc: ValidationError) -> str:
    """A validation error in one line: where and what, for the first few problems."""
    parts = []
    for err in exc.errors()[:MAX_ERROR_ITEMS]:
        where = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - MAX_ERROR_ITEMS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def load(cls: type[T], data: Any, what: str = "value") -> T:
    """Validate `data` into `cls` (a contract type, or e.g. list[TaskInfo]); `WireError` saying what is wrong."""
    try:
        value: T = adapter(cls).validate_python(data)
        return value
    except ValidationError as exc:
        raise WireError(f"invalid {what}: {describe(exc)}") from None


def dump_outcome(outcome: Outcome) -> dict[str, Any]:
    """An attempt's outcome, tagged with its kind."""
    body: dict[str, Any] = dump(outcome)
    return {"kind": _OUTCOME_KINDS[type(outcome)]} | body


def load_outcome(data: Any) -> Outcome:
    """The outcome `dump_outcome` made."""
    if not isinstance(data, dict) or data.get("kind") not in _OUTCOMES:
        raise WireError("invalid outcome: 'kind' must be one of succeeded, failed, cancelled")
    body = {k: v for k, v in data.items() if k != "kind"}
    outcome: Outcome = load(_OUTCOMES[data["kind"]], body, f"{data['kind']} outcome")
    return outcome


def dump_handoff(handoff: Handoff | None) -> dict[str, Any] | None:
    """What the server needs of a handoff: who takes what (a decider cannot cross the network)."""
    if handoff is None:
        return None
    return {"worker_id": handoff.worker_id, "lease_seconds": handoff.lease_seconds,
            "names": sorted(handoff.names), "room": handoff.room}


def load_handoff(data: Any) -> Handoff | None:
    """The handoff `dump_handoff` made, without a decider."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise WireError("invalid handoff: expected an object")
    try:
        names = frozenset(str(n) for n in data["names"])
        handoff = Handoff(worker_id=str(data["worker_id"]), lease_seconds=float(data["lease_seconds"]),
                          names=names, room=int(data["room"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"invalid handoff: {exc!r}") from None
    if handoff.room < 0 or handoff.room > 10_000 or not 0 < handoff.lease_seconds <= 86_400:
        raise WireError("invalid handoff: room must be 0..10000 and lease_seconds 0..86400")
    return handoff


def dump_claimed(tasks: list[ClaimedTask]) -> list[Any]:
    """Tasks leased to a worker."""
    return dump(tasks, list[ClaimedTask])  # type: ignore[no-any-return]


def dump_commit(commit: DecisionCommit) -> dict[str, Any]:
    """A decision to record; its commands are left out (the commit carries what they became)."""
    plain = dataclasses.replace(commit, handoff=None,
                                decision=dataclasses.replace(commit.decision, commands=[]))
    return {"commit": dump(plain), "handoff": dump_handoff(commit.handoff)}


def load_commit(data: Any) -> DecisionCommit:
    """The commit `dump_commit` made."""
    if not isinstance(data, dict):
        raise WireError("invalid decision: expected an object")
    commit: DecisionCommit = load(DecisionCommit, data.get("commit"), "decision")
    return dataclasses.replace(commit, handoff=load_handoff(data.get("handoff")))


def dump_events(events: list[h.HistoryEvent]) -> list[dict[str, Any]]:
    """History events as {kind, data}."""
    return [{"kind": e.kind, "data": e.data} for e in events]


_REBUILT: dict[str, type[TreadleError]] = {cls.__name__: cls for cls in (
    E.AuthenticationError, E.ConfigurationError, E.InvalidStateError, E.SerializationError, E.UnknownTaskError,
    E.TaskValidationError, E.WaitTimeoutError, E.StorageError, E.TreadleError, WireError)}


def error_body(exc: BaseException) -> dict[str, Any]:
    """An exception as the server reports it: its type, its message and the id it is about."""
    body: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for attr in ("task_id", "instance_id"):
        if hasattr(exc, attr):
            body[attr] = getattr(exc, attr)
    return body


def error_from_body(body: Any, status: int = 0) -> TreadleError:
    """The exception a client raises for an error the server reported (`error_body`)."""
    if not isinstance(body, dict):
        return E.StorageError(f"the server answered {status} without an error body")
    kind, message = str(body.get("type", "")), str(body.get("message", ""))
    if kind == "TaskNotFoundError" and "task_id" in body:
        return E.TaskNotFoundError(str(body["task_id"]))
    if kind == "InstanceNotFoundError" and "instance_id" in body:
        return E.InstanceNotFoundError(str(body["instance_id"]))
    if kind in ("NamespaceNotFound", "NotFound"):
        return E.ConfigurationError(message)
    cls = _REBUILT.get(kind)
    if cls is None:
        return E.StorageError(f"the server refused the request ({status} {kind}): {message}")
    return cls(message)
