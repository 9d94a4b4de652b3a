"""The WebSocket at `/ws`: remote workers lease, heartbeat and finish tasks over it, and every
connection receives change hints.

Protocol (JSON text frames):

* the peer opens with `{"type": "hello", ...}`: a worker signs it (`worker_id`, `timestamp`,
  `nonce`, `signature`, see `treadle.core.signing`) and may add `resource_info`; a client
  sends `api_key`. A client may submit and read tasks here (`submit`, `get_task`, the same
  checks as the REST routes, with less overhead per request); the other ops are for workers.
  `subscribe` names the kinds of change to hear about (`w` work, `t` tasks, `i` instances); the
  `subscribe` op (`{"kinds": "t"}`) adds kinds later, so a peer hears only what it waits for.
  The server answers `{"type": "welcome"}`, or `{"type": "refused", "reason": ...}` and
  closes with code 4401.
* requests are `{"id": n, "op": "claim", "args": {...}}`, answered by `{"id": n, "result": ...}`
  or `{"id": n, "error": {"type": ..., "message": ...}}`, in any order (they run concurrently).
* hints are `{"type": "changed", "kinds": "wt"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..core.records import LeaseRef, LeaseState, Progress
from ..core.routing import parse_patterns
from ..errors import AuthenticationError, ConfigurationError, TreadleError
from ..storage import wire
from ..storage.changes import ALL, TASKS
from . import submissions
from .auth import PermissionDenied, Principal
from .hub import Connection
from .schemas import SubmitRequest

if TYPE_CHECKING:
    from .app import ServerState

logger = logging.getLogger("treadle.server")

HELLO_TIMEOUT_SECONDS = 10.0
REFUSED = 4401
Op = Callable[["ServerState", Connection, dict[str, Any]], Awaitable[Any]]


def _int(args: dict[str, Any], key: str, low: int, high: int) -> int:
    value = args.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise wire.WireError(f"{key} must be an integer in {low}..{high}, got {value!r}")
    return value


def _seconds(args: dict[str, Any], key: str, *, optional: bool = False) -> float | None:
    value = args.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 86_400:
        raise wire.WireError(f"{key} must be a number of seconds in (0, 86400], got {value!r}")
    return float(value)


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value or len(value) > 500:
        raise wire.WireError(f"{key} must be a non-empty string of at most 500 characters")
    return value


def _worker(conn: Connection) -> Principal:
    if not conn.principal.may_work:
        raise PermissionDenied("a client API key cannot lease or finish tasks: connect as a worker")
    return conn.principal


async def _claim(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    patterns = args.get("patterns")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise wire.WireError("patterns must be a list of strings")
    batch = await state.storage.claim(namespace=ns, worker_id=_text(args, "worker_id"),
                                      patterns=parse_patterns(tuple(patterns)), limit=_int(args, "limit", 0, 10_000),
                                      lease_seconds=_seconds(args, "lease_seconds") or 30.0)
    state.metrics.leased(batch.tasks)
    return {"tasks": wire.dump_claimed(batch.tasks), "next_due": batch.next_due}


async def _claim_task(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    batch = await state.storage.claim_task(ns, _text(args, "task_id"), _text(args, "worker_id"),
                                           _seconds(args, "lease_seconds") or 30.0)
    state.metrics.leased(batch.tasks)
    return {"tasks": wire.dump_claimed(batch.tasks)}


def _leases(args: dict[str, Any]) -> list[LeaseRef]:
    return wire.load(list[LeaseRef], args.get("leases"), "leases")


async def _renew(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    _worker(conn)
    states = await state.storage.renew(_leases(args), _seconds(args, "lease_seconds", optional=True))
    return wire.dump(states, list[LeaseState])


async def _finish(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    _worker(conn)
    raw = args.get("outcomes")
    if not isinstance(raw, list):
        raise wire.WireError("outcomes must be a list")
    outcomes = [wire.load_outcome(o) for o in raw]
    handoff = wire.load_handoff(args.get("handoff"))
    recorded = await state.storage.finish(outcomes, handoff)
    state.metrics.finished(outcomes, recorded)
    claimed = handoff.claimed if handoff is not None else []
    state.metrics.leased(claimed)
    return {"recorded": recorded, "claimed": wire.dump_claimed(claimed)}


async def _progress(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    _worker(conn)
    lease: LeaseRef = wire.load(LeaseRef, args.get("lease"), "lease")
    progress: Progress = wire.load(Progress, args.get("progress"), "progress")
    return await state.storage.set_progress(lease, progress)


async def _release(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    _worker(conn)
    leases = _leases(args)
    state.metrics.released([lease.token for lease in leases])
    return await state.storage.release(leases)


async def _reap(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    reaped = await state.storage.reap_expired(ns, _int(args, "limit", 1, 10_000))
    state.metrics.lease_expiries.inc(reaped)
    return reaped


async def _renew_sessions(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    await state.storage.renew_sessions(ns, _text(args, "worker_id"), _seconds(args, "lease_seconds") or 30.0)


async def _drop_sessions(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    await state.storage.drop_sessions(ns, _text(args, "worker_id"))


async def _wf_load(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _worker(conn).scope(args.get("namespace"))
    loaded = await state.workflows().wf_load(ns, _text(args, "instance_id"))
    return None if loaded is None else wire.dump(loaded)


async def _wf_commit(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    principal = _worker(conn)
    commit = wire.load_commit(args)
    principal.scope(commit.namespace)
    for task in commit.tasks:               # every nested id is checked, not only the outer one
        principal.scope(task.namespace)
    committed = await state.workflows().wf_commit(commit)
    if commit.handoff is not None:
        state.metrics.leased(commit.handoff.claimed)
        return {"committed": committed, "claimed": wire.dump_claimed(commit.handoff.claimed)}
    return {"committed": committed, "claimed": []}


def _client(conn: Connection) -> Principal:
    if not conn.principal.may_submit:
        raise PermissionDenied("a worker credential cannot submit or read tasks: use a client API key")
    return conn.principal


async def _submit(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    who = _client(conn)
    body: SubmitRequest = wire.load(SubmitRequest, args.get("body"), "submission")
    token = state.storage.change_token(TASKS)      # before the insert: any later finish counts
    stored = await submissions.submit(state, who, args.get("namespace"), body)
    for e in stored:
        if e.created:
            conn.submitted(e.task_id, token)
    return [{"task_id": e.task_id, "created": e.created} for e in stored]


async def _get_task(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    ns = _client(conn).scope(args.get("namespace"))
    wait = args.get("wait", 0)
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= 60:
        raise wire.WireError(f"wait must be a number of seconds in [0, 60], got {wait!r}")
    task_id = _text(args, "task_id")
    since = conn.submitted_since(task_id)
    return wire.dump(await submissions.read_task(state.storage, ns, task_id, float(wait), since))


async def _subscribe(state: ServerState, conn: Connection, args: dict[str, Any]) -> Any:
    kinds = args.get("kinds")
    if not isinstance(kinds, str) or not set(kinds) <= set(ALL):
        raise wire.WireError(f"kinds must be letters of {ALL!r}, got {kinds!r}")
    conn.kinds = "".join(k for k in ALL if k in conn.kinds or k in kinds)
    return None


OPS: dict[str, Op] = {
    "submit": _submit, "get_task": _get_task, "subscribe": _subscribe,
    "claim": _claim, "claim_task": _claim_task, "renew": _renew, "finish": _finish, "set_progress": _progress,
    "release": _release, "reap_expired": _reap, "renew_sessions": _renew_sessions, "drop_sessions": _drop_sessions,
    "wf_load": _wf_load, "wf_commit": _wf_commit,
}


async def _authenticate(state: ServerState, ws: WebSocket) -> Connection | None:
    try:
        raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT_SECONDS)
        hello = orjson.loads(raw)
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise ConfigurationError("the first message must be {\"type\": \"hello\", ...}")
        if not state.settings.insecure and "api_key" not in hello and "signature" not in hello:
            raise AuthenticationError("missing credentials: a client sends its API key ($TREADLE_API_KEY), "
                                      "a worker signs in with its id and secret ($TREADLE_WORKER_TOKEN)")
        if "api_key" in hello:
            if not isinstance(hello["api_key"], str):
                raise AuthenticationError("api_key must be a string")
            principal = await state.auth.api_key(hello["api_key"])
            worker_id = None
        else:
            principal = await state.auth.worker(hello.get("worker_id"), hello.get("timestamp"), hello.get("nonce"),
                                                hello.get("signature"))
            worker_id = principal.name
        info = hello.get("resource_info") or {}
        kinds = hello.get("subscribe", ALL)
        if not isinstance(info, dict) or not isinstance(kinds, str):
            raise ConfigurationError("resource_info must be an object and subscribe a string of w, t, i")
    except (TimeoutError, WebSocketDisconnect, orjson.JSONDecodeError, TreadleError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, TreadleError) else f"expected a hello message ({type(exc).__name__})"
        if isinstance(exc, WebSocketDisconnect):
            return None
        logger.info("refused a WebSocket connection: %s", reason)
        with contextlib.suppress(Exception):
            await ws.send_text(orjson.dumps({"type": "refused", "reason": reason}).decode())
            await ws.close(code=REFUSED, reason=reason[:120])
        return None
    return Connection(ws, principal, worker_id, info, "".join(k for k in ALL if k in kinds))


async def _answer(state: ServerState, conn: Connection, message: Any) -> None:
    ident = message.get("id") if isinstance(message, dict) else None
    try:
        if not isinstance(message, dict) or not isinstance(ident, int):
            raise wire.WireError("a request is {\"id\": <int>, \"op\": <name>, \"args\": {...}}")
        op = OPS.get(message.get("op"))  # type: ignore[arg-type]
        if op is None:
            raise wire.WireError(f"unknown op {message.get('op')!r}; known: {', '.join(sorted(OPS))}")
        args = message.get("args") or {}
        if not isinstance(args, dict):
            raise wire.WireError("args must be an object")
        result = await op(state, conn, args)
        await conn.send({"id": ident, "result": result})
    except TreadleError as exc:
        await conn.send({"id": ident, "error": wire.error_body(exc)})
    except Exception as exc:     # a bug: tell the peer, log it, keep the connection
        logger.exception("WebSocket op failed")
        await conn.send({"id": ident, "error": {"type": "InternalError", "message": f"{type(exc).__name__}"}})


async def serve_socket(state: ServerState, ws: WebSocket) -> None:
    """Serve one connection until it closes."""
    await ws.accept()
    conn = await _authenticate(state, ws)
    if conn is None:
        return
    state.connected(conn)
    in_flight = state.in_flight
    try:
        await conn.send({"type": "welcome", "namespace": conn.principal.namespace, "worker_id": conn.worker_id})
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text") if message.get("text") is not None else message.get("bytes")
            try:
                parsed = orjson.loads(text or b"")
            except orjson.JSONDecodeError:
                parsed = None
            task = asyncio.create_task(_answer(state, conn, parsed))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    except WebSocketDisconnect:
        pass
    finally:
        conn.closed = True      # writes already sent to the store complete (the app waits for them at
        state.disconnected(conn)    # shutdown); their answers are dropped
