"""The treadle server as an ASGI app: REST under `/v1`, workers on `/ws`, health and metrics.

It wraps one SQLite or PostgreSQL store and holds nothing of its own beyond connections,
so several servers can serve one PostgreSQL. Every client mistake is a 4xx with a JSON body
(`{"error": {"type", "message"}}`); a 5xx means the store is down (503) or a bug (500).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors as E
from ..core.records import TaskQuery
from ..core.registry import Registry
from ..core.states import TaskStatus
from ..settings import ServerSettings
from ..storage.base import Storage
from ..storage.wf_store import SqlWorkflowStore
from ..storage.wire import WireError, error_body
from .auth import Authenticator, NamespaceNotFound, PermissionDenied
from .hub import Connection, Hub
from .metrics import ServerMetrics
from .rest import router
from .schemas import ErrorResponse, WorkerView
from .ws import REFUSED, serve_socket

logger = logging.getLogger("treadle.server")

API_VERSION = "1"
_STATUS: list[tuple[type[BaseException], int]] = [
    (E.AuthenticationError, 401), (PermissionDenied, 403), (NamespaceNotFound, 404), (E.TaskNotFoundError, 404),
    (E.InstanceNotFoundError, 404), (E.InvalidStateError, 409), (E.StorageError, 503), (E.TreadleError, 422),
]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def status_of(exc: BaseException) -> int:
    """The HTTP status of a treadle error (client mistakes are 4xx, a store that is down 503)."""
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 500)


class ServerState:
    """What the routes share: the store, credentials, connections and metrics."""

    def __init__(self, storage: Storage, settings: ServerSettings) -> None:
        self.storage = storage
        self.settings = settings
        self.auth = Authenticator(storage, settings)
        self.hub = Hub(storage)
        self.metrics = ServerMetrics()
        self.registry = Registry()
        for module in settings.task_modules:
            self.registry.add_module(module)
        self.strict_names = bool(settings.task_modules)
        self.in_flight: set[asyncio.Task[None]] = set()    # WebSocket requests being answered

    def workflows(self) -> SqlWorkflowStore:
        """The store's orchestration verbs (every store a server can wrap has them)."""
        if not isinstance(self.storage, SqlWorkflowStore):
            raise E.ConfigurationError(f"{self.storage.url} cannot run orchestrations")
        return self.storage

    def connected(self, conn: Connection) -> None:
        """Start sending hints to a new connection."""
        self.hub.connections.add(conn)
        self.metrics.connected_workers.set(sum(c.worker_id is not None for c in self.hub.connections))
        logger.info("connected: %s", conn.worker_id or conn.principal.name,
                    extra={"event": "connected", "worker_id": conn.worker_id, "address": conn.address})

    def disconnected(self, conn: Connection) -> None:
        """Forget a connection that closed."""
        self.hub.connections.discard(conn)
        self.metrics.connected_workers.set(sum(c.worker_id is not None for c in self.hub.connections))
        logger.info("disconnected: %s", conn.worker_id or conn.principal.name,
                    extra={"event": "disconnected", "worker_id": conn.worker_id})

    async def workers(self, namespace: str) -> list[WorkerView]:
        """This server's worker connections in `namespace`, with the tasks each is running."""
        running = await self.storage.list(namespace, TaskQuery(statuses=(TaskStatus.RUNNING,), limit=10_000))
        by_worker: dict[str, list[str]] = {}
        for task in running:
            by_worker.setdefault(task.worker_id or "", []).append(task.id)
        return [WorkerView(worker_id=c.worker_id, namespace=c.principal.namespace, resource_info=c.resource_info,
                           connected_at=c.connected_at, address=c.address, running=by_worker.get(c.worker_id, []))
                for c in sorted(self.hub.connections, key=lambda c: c.connected_at)
                if c.worker_id is not None and c.principal.namespace in (None, namespace)]

    async def watch_revocations(self) -> None:
        """Drop connections whose credential was revoked (checked every `credential_check_seconds`)."""
        since = time.time() - 5.0
        while True:
            await asyncio.sleep(self.settings.credential_check_seconds)
            try:
                checked = time.time()
                revoked = set(await self.auth.revoked_since(since - 5.0))
                since = checked
            except Exception as exc:
                logger.warning("could not read revocations: %s", exc)
                continue
            for conn in list(self.hub.connections):
                if (conn.principal.kind, conn.principal.name) in revoked:
                    await conn.close(REFUSED, "credential revoked")


class BodyLimit:
    """Refuse request bodies over the limit with 413 before they are read into memory."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(self.limit, send)
            return
        seen, refused = 0, False

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:           # a streamed body: answer 413 now, and the app sees a disconnect
                if not refused:
                    refused = True
                    await _too_large(self.limit, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: MutableMapping[str, Any]) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded)


async def _too_large(limit: int, send: Send) -> None:
    body = JSONResponse({"error": {"type": "PayloadTooLarge",
                                   "message": f"request body over the limit of {limit} bytes"}}, status_code=413)
    await body({"type": "http"}, _nothing, send)


async def _nothing() -> MutableMapping[str, Any]:
    return {"type": "http.disconnect"}


def _error(status: int, kind: str, message: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message} | (extra or {})}, status_code=status)


def create_app(storage: Storage, settings: ServerSettings | None = None) -> FastAPI:
    """The server app over `storage` (opened at start-up, closed at shutdown)."""
    settings = settings or ServerSettings()
    state = ServerState(storage, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await storage.open()
        state.hub.start()
        watcher = asyncio.create_task(state.watch_revocations()) if not settings.insecure else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await state.hub.stop()
            if state.in_flight:     # let writes already sent to the store finish before it closes
                await asyncio.wait(list(state.in_flight), timeout=10)
            await storage.close()

    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse}
                                               for code in (400, 401, 404, 409, 413, 422)}
    app = FastAPI(title="treadle", version=API_VERSION, lifespan=lifespan, responses=errors,
                  description="Tasks, workflows and workers over HTTP. Authenticate with `Authorization: Bearer "
                              "<API key>`; workers connect to the WebSocket at `/ws`.")
    app.state.treadle = state
    app.include_router(router)

    _install_error_handlers(app)
    _install_health(app, state)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(E.TreadleError)
    async def treadle_error(request: Request, exc: E.TreadleError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            logger.error("request failed: %s", exc)
        return JSONResponse({"error": error_body(exc)}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}
        return _error(exc.status_code, kinds.get(exc.status_code, "HTTPError"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ())) or "request"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "RequestValidationError", "; ".join(problems) or "invalid request")

    @app.exception_handler(WireError)
    async def wire_error(request: Request, exc: WireError) -> JSONResponse:
        return _error(422, "WireError", str(exc))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "InternalError", "the server failed; the error is in its log")


def _install_health(app: FastAPI, state: ServerState) -> None:
    storage = state.storage

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorResponse}})
    async def readyz() -> Response:
        """The store answers: this server can take requests."""
        try:
            await storage.get("default", "readiness-probe")
        except Exception as exc:
            return _error(503, "StorageError", f"the store does not answer: {exc}")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics (text exposition format)."""
        with contextlib.suppress(Exception):
            state.metrics.set_depths(await storage.queue_depths())  # type: ignore[attr-defined]
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await serve_socket(state, websocket)
