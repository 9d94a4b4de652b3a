"""The remote backend: the storage contract spoken to a treadle server (`http://host:52710`).

A client submits and reads tasks, the verbs of every round trip, over one WebSocket per event
loop (a frame costs far less than an HTTP request); its rarer verbs (cancel, orchestrations,
admin) use the REST API with a bearer API key. A worker signs its socket with its secret and
claims, heartbeats and finishes over it (with an API key too, it submits over REST). The
socket also brings change hints, so idle workers and waiting clients wake when something
happens, with no polling. Submitting and reading are sent again when the socket drops (ids
are chosen client-side, so a repeat creates nothing); other calls fail with `StorageError`
(the worker keeps its results and retries them) while the link reconnects with backoff;
after `max_reconnect_attempts` (-1: never give up) it raises `ConnectionLostError`. Hints
are bumped on every reconnect, since some may have been missed: waiters re-read the server,
which is the truth.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from ..core import signing
from ..core.records import (
    ClaimBatch,
    ClaimedTask,
    Handoff,
    InstanceInfo,
    LeaseRef,
    LeaseState,
    NewTask,
    Outcome,
    Progress,
    TaskInfo,
    TaskQuery,
)
from ..core.routing import Pattern
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionLostError,
    InstanceNotFoundError,
    StorageError,
    TaskNotFoundError,
    TreadleError,
)
from ..workflow import history as h
from . import wire
from .base import Enqueued
from .changes import ALL, ChangeCounter
from .wf_steps import DecisionCommit, LoadedInstance

logger = logging.getLogger("treadle.remote")

DEFAULT_PORT = 52710
REFUSED = 4401
_MAX_BACKOFF_SECONDS = 30.0
_OPEN_WAIT_SECONDS = 5.0
_READY_WAIT_SECONDS = 2.0
_CALL_ATTEMPTS = 3


class LinkDown(StorageError):
    """The request may not have reached the server, or its answer was lost: the socket dropped."""


def split_url(url: str) -> tuple[str, str]:
    """(http base, WebSocket URL) of a server URL given as http(s)://host:port or ws(s)://host:port/ws."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ConfigurationError(f"invalid server URL {url!r}: use http://host:52710 or ws://host:52710/ws")
    if parts.username or parts.password:
        raise ConfigurationError("put credentials in api_key / worker_token, not in the server URL")
    secure = scheme in ("https", "wss")
    netloc = parts.netloc if parts.port else f"{parts.netloc}:{DEFAULT_PORT}"
    path = parts.path.rstrip("/")
    if scheme.startswith("ws"):
        ws_path = path or "/ws"
        base_path = ws_path[: -len("/ws")] if ws_path.endswith("/ws") else ""
    else:
        base_path, ws_path = path, path + "/ws"
    return f"{'https' if secure else 'http'}://{netloc}{base_path}", f"{'wss' if secure else 'ws'}://{netloc}{ws_path}"


class _Link:
    """One WebSocket to the server, owned by one event loop: requests, answers and hints."""

    def __init__(self, owner: RemoteStorage) -> None:
        self.owner = owner
        self.ws: Any = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.ready = asyncio.Event()
        self.failure: BaseException | None = None
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.first.add_done_callback(lambda f: f.cancelled() or f.exception())   # read even if nobody waits
        self.closing = False
        self.task = asyncio.create_task(self._run())

    async def _hello(self, ws: Any) -> None:
        o = self.owner
        kinds = "".join(sorted(o._kinds))        # the hints waited for so far (see `wait_for_change`)
        hello: dict[str, Any] = {"type": "hello", "subscribe": kinds, "resource_info": o.resource_info}
        if o.worker_id is not None and o.worker_token is not None:
            ts, nonce = time.time(), signing.new_nonce()
            hello |= {"worker_id": o.worker_id, "timestamp": ts, "nonce": nonce,
                      "signature": signing.sign(o.worker_token, o.worker_id, ts, nonce)}
        elif o.api_key is not None:
            hello["api_key"] = o.api_key
        elif o.worker_id is not None:
            hello["worker_id"] = o.worker_id
        await ws.send(orjson.dumps(hello).decode())
        answer = orjson.loads(await asyncio.wait_for(ws.recv(), o.request_timeout))
        if answer.get("type") == "refused":
            raise AuthenticationError(f"the server refused the connection: {answer.get('reason')}")
        if answer.get("type") != "welcome":
            raise StorageError(f"unexpected answer to hello: {answer!r}")

    async def _run(self) -> None:
        import websockets

        o, attempts = self.owner, 0
        while not self.closing:
            try:
                async with websockets.connect(o.ws_url, max_size=o.max_message_bytes, open_timeout=o.request_timeout,
                                              ping_interval=20, ping_timeout=20, compression=None) as ws:
                    await self._hello(ws)
                    attempts = 0
                    self.ws = ws
                    self.ready.set()
                    o._counter.bump(ALL)            # hints may have been missed while away
                    if not self.first.done():
                        self.first.set_result(None)
                    async for raw in ws:
                        self._dispatch(orjson.loads(raw))
                    if ws.close_code == REFUSED:
                        raise AuthenticationError(f"the server closed the connection: {ws.close_reason}")
            except AuthenticationError as exc:
                self._give_up(exc)
                return
            except asyncio.CancelledError:
                self._lost(LinkDown("the connection to the server was closed"))
                raise
            except Exception as exc:
                logger.debug("connection to %s failed: %s", o.ws_url, exc)
                if getattr(exc, "rcvd", None) is not None and exc.rcvd.code == REFUSED:  # type: ignore[attr-defined]
                    self._give_up(AuthenticationError(f"the server closed the connection: {exc.rcvd.reason}"))  # type: ignore[attr-defined]
                    return
            self._lost(LinkDown(f"the connection to the treadle server at {o.ws_url} was lost"))
            if self.closing:
                return
            attempts += 1
            if 0 <= o.max_reconnect_attempts < attempts:
                self._give_up(ConnectionLostError(f"could not reach the treadle server at {o.ws_url} "
                                                  f"after {o.max_reconnect_attempts} reconnection attempts"))
                return
            if attempts == 1:
                logger.warning("lost the treadle server at %s; reconnecting", o.ws_url)
            await asyncio.sleep(min(o.reconnect_interval * 2 ** min(attempts - 1, 10),
                                    max(o.reconnect_interval, _MAX_BACKOFF_SECONDS)))

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("type") == "changed":
            self.owner._counter.bump(str(message.get("kinds", ALL)))
            return
        fut = self.pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if fut is None or fut.done():
            return
        if "error" in message:
            fut.set_exception(wire.error_from_body(message["error"]))
        else:
            fut.set_result(message.get("result"))

    def _lost(self, exc: StorageError) -> None:
        self.ws = None
        self.ready.clear()
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self.owner._counter.bump(ALL)

    def _give_up(self, exc: BaseException) -> None:
        self.failure = exc
        self._lost(StorageError(str(exc)))
        self.ready.set()
        if not self.first.done():
            self.first.set_exception(exc)

    async def call(self, op: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        timeout = self.owner.request_timeout if timeout is None else timeout
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), min(timeout, _READY_WAIT_SECONDS))
        if self.failure is not None:
            raise self.failure
        ws = self.ws
        if ws is None:
            raise LinkDown(f"not connected to the treadle server at {self.owner.ws_url}")
        self.next_id += 1
        ident = self.next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[ident] = fut
        try:
            await ws.send(orjson.dumps({"id": ident, "op": op, "args": args}).decode())
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise StorageError(f"the treadle server did not answer {op} within {timeout}s") from None
        except TreadleError:
            raise                   # the server's answer, or the link's own failure
        except Exception as exc:
            raise LinkDown(f"the connection to the treadle server failed: {exc}") from exc
        finally:
            self.pending.pop(ident, None)
            if fut.done() and not fut.cancelled():
                fut.exception()     # failed by a lost link while this call was still sending: read here, not left

    async def close(self) -> None:
        self.closing = True
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


class RemoteStorage:
    """A treadle server as a storage backend; open it with `open_storage("http://host:52710", ...)`."""

    def __init__(self, url: str, *, api_key: str | None = None, worker_id: str | None = None,
                 worker_token: str | None = None, resource_info: dict[str, Any] | None = None,
                 reconnect_interval: float = 1.0, max_reconnect_attempts: int = -1, request_timeout: float = 30.0,
                 max_message_bytes: int = 16 * 1024 * 1024) -> None:
        self.base_url, self.ws_url = split_url(url)
        self.url = self.base_url
        if reconnect_interval <= 0 or request_timeout <= 0:
            raise ConfigurationError("reconnect_interval and request_timeout must be positive numbers of seconds")
        if not isinstance(max_reconnect_attempts, int) or max_reconnect_attempts < -1:
            raise ConfigurationError("max_reconnect_attempts must be an integer >= -1 (-1: unlimited)")
        self.api_key = api_key
        self.worker_id = worker_id
        self.worker_token = worker_token
        self.resource_info = dict(resource_info or {})
        self.reconnect_interval = float(reconnect_interval)
        self.max_reconnect_attempts = max_reconnect_attempts
        self.request_timeout = float(request_timeout)
        self.max_message_bytes = max_message_bytes
        self._counter = ChangeCounter()
        self._kinds: set[str] = set()      # kinds of change hint asked of the server (again at each hello)
        self._links: dict[asyncio.AbstractEventLoop, _Link] = {}
        self._http: dict[asyncio.AbstractEventLoop, Any] = {}
        self._opened = False

    # ------------------------------------------------------------------ connections

    def _link(self) -> _Link:
        """This loop's WebSocket link (connecting in the background); a link that gave up stays given up."""
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is None:
            link = self._links[loop] = _Link(self)
        return link

    def _client(self) -> Any:
        import httpx

        loop = asyncio.get_running_loop()
        client = self._http.get(loop)
        if client is None:
            headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            client = self._http[loop] = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                                          timeout=self.request_timeout)
        return client

    async def open(self) -> None:
        """Connect the WebSocket (hints, and work for a worker): refused credentials raise here."""
        if self._opened:
            return
        link = self._link()
        with contextlib.suppress(TimeoutError, StorageError):   # not reachable yet: the link keeps trying
            await asyncio.wait_for(asyncio.shield(link.first), _OPEN_WAIT_SECONDS)
        self._opened = True

    async def close(self) -> None:
        """Close the connections of every event loop that opened some."""
        current = asyncio.get_running_loop()
        links, self._links = self._links, {}
        clients, self._http = self._http, {}
        closers = [(loop, link.close()) for loop, link in links.items()]
        closers += [(loop, client.aclose()) for loop, client in clients.items()]
        for loop, closer in closers:
            if loop is current:
                await closer
            elif loop.is_running():          # another thread's loop (a sync client's portal): close it there
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(closer, loop)), 5)
            elif not loop.is_closed():
                loop.run_until_complete(closer)
            else:
                closer.close()
        self._opened = False

    async def _rpc(self, op: str, args: dict[str, Any]) -> Any:
        return await self._link().call(op, args)

    async def _rpc_again(self, op: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        """An idempotent request (ids are chosen client-side), sent again when the connection drops."""
        for attempt in range(_CALL_ATTEMPTS):
            try:
                return await self._link().call(op, args, timeout)
            except LinkDown:
                if attempt == _CALL_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, *, json: Any = None, params: Any = None,
                       missing: BaseException | None = None, timeout: float | None = None) -> Any:
        import httpx

        client = self._client()
        attempts = 3 if method in ("GET", "POST") else 1
        for attempt in range(attempts):
            try:
                response = await client.request(method, path, json=json, params=params,
                                                timeout=timeout if timeout is not None else self.request_timeout)
                break
            except httpx.TransportError as exc:   # every write here is idempotent (ids are chosen client-side)
                if attempt == attempts - 1:
                    raise StorageError(f"cannot reach the treadle server at {self.base_url}: {exc!r}") from exc
                await asyncio.sleep(0.1 * 2 ** attempt)
        if response.status_code < 400:
            return response.json()
        try:
            body = response.json().get("error")
        except ValueError:
            body = None
        if response.status_code == 404 and missing is not None and isinstance(body, dict) \
                and body.get("type") in ("TaskNotFoundError", "InstanceNotFoundError"):
            raise missing
        raise wire.error_from_body(body, response.status_code)

    @staticmethod
    def _ns(namespace: str) -> str:
        return f"/v1/namespaces/{quote(namespace, safe='')}"

    # ------------------------------------------------------------------ client verbs (REST)

    async def enqueue(self, tasks: Sequence[NewTask]) -> list[Enqueued]:
        """Submit tasks in one request (one transaction on the server), over the WebSocket."""
        if not tasks:
            return []
        if any(t.wf_instance is not None or t.session_id is not None for t in tasks):
            raise ConfigurationError("orchestration tasks are scheduled by the server, not submitted")
        body = {"tasks": [{"id": t.id, "name": t.name, "namespace": t.namespace, "args": t.args, "kwargs": t.kwargs,
                           "priority": t.priority, "delay_seconds": t.delay_seconds, "run_at": t.run_at,
                           "timeout_seconds": t.timeout_seconds, "retry_policy": t.retry_policy or None,
                           "max_attempts": t.max_attempts, "idempotency_key": t.idempotency_key,
                           "metadata": t.metadata} for t in tasks]}
        if self._speaks_as_client:
            out = await self._rpc_again("submit", {"namespace": tasks[0].namespace, "body": body})
        else:
            out = (await self._request("POST", f"{self._ns(tasks[0].namespace)}/tasks", json=body))["tasks"]
        return [Enqueued(e["task_id"], bool(e["created"])) for e in out]

    async def get(self, namespace: str, task_id: str) -> TaskInfo | None:
        """One task, or None."""
        try:
            return await self.wait_finished(namespace, task_id, 0.0)
        except TaskNotFoundError:
            return None

    async def wait_finished(self, namespace: str, task_id: str, timeout: float) -> TaskInfo:
        """The task once it has finished, or as it is after `timeout` seconds (one long-poll request)."""
        timeout = max(0.0, min(timeout, 60.0))
        if self._speaks_as_client:
            data = await self._rpc_again("get_task", {"namespace": namespace, "task_id": task_id, "wait": timeout},
                                         timeout + self.request_timeout)
        else:
            data = await self._request("GET", f"{self._ns(namespace)}/tasks/{quote(task_id, safe='')}",
                                       params={"wait": timeout}, missing=TaskNotFoundError(task_id),
                                       timeout=timeout + self.request_timeout)
        return wire.load(TaskInfo, data, "task")

    @property
    def _speaks_as_client(self) -> bool:
        """Whether the WebSocket signs in as a client, which may submit and read on it; a worker's
        socket may not, so a worker that also holds an API key submits and reads over REST."""
        return self.worker_id is None

    async def list(self, namespace: str, query: TaskQuery) -> list[TaskInfo]:
        """Tasks matching `query`, newest first."""
        params: list[tuple[str, Any]] = [("status", s.value) for s in query.statuses]
        for key in ("created_after", "created_before"):
            if getattr(query, key) is not None:
                params.append((key, getattr(query, key)))
        if query.name_pattern is not None:
            params.append(("name", query.name_pattern))
        params += [("limit", query.limit), ("offset", query.offset)]
        data = await self._request("GET", f"{self._ns(namespace)}/tasks", params=params)
        return wire.load(list[TaskInfo], data, "tasks")

    async def cancel(self, namespace: str, task_id: str) -> TaskInfo:
        """Cancel a pending task or ask a running one to stop."""
        data = await self._request("POST", f"{self._ns(namespace)}/tasks/{quote(task_id, safe='')}/cancel",
                                   missing=TaskNotFoundError(task_id))
        return wire.load(TaskInfo, data, "task")

    async def redrive(self, namespace: str, task_id: str) -> TaskInfo:
        """Send a failed or cancelled task back to pending."""
        data = await self._request("POST", f"{self._ns(namespace)}/tasks/{quote(task_id, safe='')}/retry",
                                   missing=TaskNotFoundError(task_id))
        return wire.load(TaskInfo, data, "task")

    async def workers(self, namespace: str) -> builtins.list[dict[str, Any]]:
        """Workers connected to the server, with their resource info and running tasks."""
        workers: builtins.list[dict[str, Any]] = await self._request("GET", f"{self._ns(namespace)}/workers")
        return workers

    # ------------------------------------------------------------------ worker verbs (WebSocket)

    async def claim(self, *, namespace: str, worker_id: str, patterns: Sequence[Pattern], limit: int,
                    lease_seconds: float) -> ClaimBatch:
        """Lease due tasks through the server."""
        if limit <= 0 or not patterns:
            return ClaimBatch(tasks=[])
        out = await self._rpc("claim", {"namespace": namespace, "worker_id": worker_id,
                                        "patterns": [p.text for p in patterns], "limit": limit,
                                        "lease_seconds": lease_seconds})
        return ClaimBatch(tasks=wire.load(list[ClaimedTask], out["tasks"], "claimed tasks"),
                          next_due=out.get("next_due"))

    async def claim_task(self, namespace: str, task_id: str, worker_id: str, lease_seconds: float) -> ClaimBatch:
        """Lease one task by id through the server."""
        out = await self._rpc("claim_task", {"namespace": namespace, "task_id": task_id, "worker_id": worker_id,
                                             "lease_seconds": lease_seconds})
        return ClaimBatch(tasks=wire.load(list[ClaimedTask], out["tasks"], "claimed tasks"))

    async def renew(self, leases: Sequence[LeaseRef], lease_seconds: float | None) -> builtins.list[LeaseState]:
        """Heartbeat: extend (or only read) leases."""
        if not leases:
            return []
        out = await self._rpc("renew", {"leases": wire.dump(list(leases), list[LeaseRef]),
                                        "lease_seconds": lease_seconds})
        return wire.load(list[LeaseState], out, "lease states")

    async def finish(self, outcomes: Sequence[Outcome], handoff: Handoff | None = None) -> builtins.list[bool]:
        """Record outcomes; what the server leased to the `handoff` worker is put in `handoff.claimed`."""
        if not outcomes:
            return []
        out = await self._rpc("finish", {"outcomes": [wire.dump_outcome(o) for o in outcomes],
                                         "handoff": wire.dump_handoff(handoff)})
        if handoff is not None:
            handoff.claimed.extend(wire.load(list[ClaimedTask], out["claimed"], "claimed tasks"))
        return [bool(x) for x in out["recorded"]]

    async def set_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Record progress under the lease."""
        return bool(await self._rpc("set_progress", {"lease": wire.dump(lease), "progress": wire.dump(progress)}))

    async def release(self, leases: Sequence[LeaseRef]) -> int:
        """Give leased tasks back unstarted."""
        if not leases:
            return 0
        return int(await self._rpc("release", {"leases": wire.dump(list(leases), list[LeaseRef])}))

    async def reap_expired(self, namespace: str, limit: int) -> int:
        """Recover tasks whose lease ran out."""
        return int(await self._rpc("reap_expired", {"namespace": namespace, "limit": limit}))

    async def renew_sessions(self, namespace: str, worker_id: str, lease_seconds: float) -> None:
        """Keep this worker's sessions."""
        await self._rpc("renew_sessions", {"namespace": namespace, "worker_id": worker_id,
                                           "lease_seconds": lease_seconds})

    async def drop_sessions(self, namespace: str, worker_id: str) -> None:
        """Give this worker's sessions up."""
        await self._rpc("drop_sessions", {"namespace": namespace, "worker_id": worker_id})

    # ------------------------------------------------------------------ change hints

    def change_token(self, kind: str) -> int:
        """The count of hints of `kind` the server sent (and reconnections)."""
        return self._counter.version(kind)

    async def wait_for_change(self, since: int, timeout: float, kind: str) -> int:
        """Wait for a hint of `kind` after `since`.

        The server sends only the kinds of hint a peer has waited for: a worker does not hear of
        every finished task, nor a client of new work. The first wait for a kind asks for it and
        returns at once, as a change: whatever happened before, no hint told of it.
        """
        link = self._link()
        if kind not in self._kinds:
            self._kinds.add(kind)
            with contextlib.suppress(TreadleError):    # not connected: the next hello asks for it
                await link.call("subscribe", {"kinds": kind})
            self._counter.bump(kind)
        return await self._counter.wait(since, timeout, kind)

    # ------------------------------------------------------------------ orchestrations

    async def wf_start(self, namespace: str, instance_id: str, name: str, input: Any) -> bool:
        """Start an instance unless one with this id exists."""
        out = await self._request("POST", f"{self._ns(namespace)}/orchestrations",
                                  json={"instance_id": instance_id, "name": name, "input": input})
        return bool(out["ok"])

    def _wf(self, namespace: str, instance_id: str) -> str:
        return f"{self._ns(namespace)}/orchestrations/{quote(instance_id, safe='')}"

    async def wf_load(self, namespace: str, instance_id: str) -> LoadedInstance | None:
        """The instance with its current history and inbox (for a deciding worker)."""
        out = await self._rpc("wf_load", {"namespace": namespace, "instance_id": instance_id})
        return None if out is None else wire.load(LoadedInstance, out, "instance")

    async def wf_commit(self, commit: DecisionCommit) -> bool:
        """Record a decision; work it leases to the deciding worker lands in `commit.handoff.claimed`."""
        out = await self._rpc("wf_commit", wire.dump_commit(commit))
        if commit.handoff is not None:
            commit.handoff.claimed.extend(wire.load(list[ClaimedTask], out["claimed"], "claimed tasks"))
        return bool(out["committed"])

    async def wf_deliver(self, namespace: str, instance_id: str, event: h.HistoryEvent) -> bool:
        """Deliver an external event or a queue message."""
        where = {h.EVENT_RAISED: "events", h.EVENT_QUEUED: "queue"}.get(event.kind)
        if where is None:
            raise ConfigurationError(f"only events and queue messages are delivered from outside, not {event.kind}")
        out = await self._request("POST", f"{self._wf(namespace, instance_id)}/{where}",
                                  json={"name": event.data["name"], "data": event.data.get("data")},
                                  missing=InstanceNotFoundError(instance_id))
        return bool(out["ok"])

    async def wf_terminate(self, namespace: str, instance_id: str, reason: str) -> bool:
        """Terminate a running instance and its children."""
        out = await self._request("POST", f"{self._wf(namespace, instance_id)}/terminate", json={"reason": reason},
                                  missing=InstanceNotFoundError(instance_id))
        return bool(out["ok"])

    async def wf_get(self, namespace: str, instance_id: str) -> InstanceInfo | None:
        """One instance, or None."""
        try:
            out = await self._request("GET", self._wf(namespace, instance_id),
                                      missing=InstanceNotFoundError(instance_id))
        except InstanceNotFoundError:
            return None
        return wire.load(InstanceInfo, out, "instance")

    async def wf_list(self, namespace: str, *, name: str | None = None, status: str | None = None,
                      limit: int = 100, offset: int = 0) -> builtins.list[InstanceInfo]:
        """Instances, newest first."""
        params = {k: v for k, v in {"name": name, "status": status, "limit": limit, "offset": offset}.items()
                  if v is not None}
        out = await self._request("GET", f"{self._ns(namespace)}/orchestrations", params=params)
        return wire.load(list[InstanceInfo], out, "instances")

    async def wf_history(self, namespace: str, instance_id: str, execution: int | None = None
                         ) -> builtins.list[h.HistoryEvent]:
        """An execution's history."""
        params = {} if execution is None else {"execution": execution}
        out = await self._request("GET", f"{self._wf(namespace, instance_id)}/history", params=params,
                                  missing=InstanceNotFoundError(instance_id))
        return [h.HistoryEvent(e["kind"], e["data"]) for e in out]

    async def wf_executions(self, namespace: str, instance_id: str) -> builtins.list[int]:
        """Execution numbers whose history is kept."""
        out = await self._request("GET", f"{self._wf(namespace, instance_id)}/executions",
                                  missing=InstanceNotFoundError(instance_id))
        return [int(x) for x in out]

    async def wf_children(self, namespace: str, instance_id: str) -> builtins.list[str]:
        """Ids of the sub-orchestrations an instance started."""
        out = await self._request("GET", f"{self._wf(namespace, instance_id)}/children",
                                  missing=InstanceNotFoundError(instance_id))
        return [str(x) for x in out]

    async def wf_delete(self, namespace: str, instance_id: str) -> bool:
        """Delete an instance, its history and its children."""
        out = await self._request("DELETE", self._wf(namespace, instance_id))
        return bool(out["ok"])

    async def wf_prune(self, namespace: str, instance_id: str, keep_last: int) -> int:
        """Delete the history of all but the last `keep_last` executions."""
        out = await self._request("POST", f"{self._wf(namespace, instance_id)}/prune", json={"keep_last": keep_last},
                                  missing=InstanceNotFoundError(instance_id))
        return int(out["count"])

    async def wf_metrics(self, namespace: str) -> dict[str, Any]:
        """Instances by status and queue depths."""
        metrics: dict[str, Any] = await self._request("GET", f"{self._ns(namespace)}/metrics")
        return metrics
