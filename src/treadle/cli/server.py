"""`treadle server`, `treadle auth add-worker | add-client | ls | revoke` and `treadle workers`.

`auth` writes credentials into the database the server serves (`--db`, default
`$TREADLE_URL`, else `sqlite:///treadle.db`): servers read them from there, so every server on
one PostgreSQL accepts a new credential, and drops a revoked one, within a second.
"""


import asyncio
import logging
import os
import sys
from typing import Annotated, Any, Literal

import typer

from ..core import signing
from ..core.records import DEFAULT_NAMESPACE
from ..core.routing import validate_name
from ..errors import ConfigurationError
from ..settings import ServerSettings
from ..storage import Storage, is_server_url, open_storage
from . import output
from .common import NamespaceOption, UrlOption, friendly, open_client, resolve_url, split_values

logger = logging.getLogger("treadle.server")
auth_app = typer.Typer(no_args_is_help=True, help="Credentials of clients and workers (in the database).")
DbOption = Annotated[str | None, typer.Option(
    "--db", "--url", help="Database URL (default: $TREADLE_URL, else sqlite:///treadle.db).", show_default=False)]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(db: str, host: str, port: int, settings: ServerSettings, log_level: str) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM."""
    try:
        import uvicorn

        from ..server import create_app
    except ImportError:
        raise ConfigurationError("the server needs the extra: pip install 'treadle[server]'") from None
    if is_server_url(db):
        raise ConfigurationError("--db is the database the server serves (sqlite:///… or postgresql://…), "
                                 "not another server")
    if settings.insecure and host not in LOOPBACK:
        logger.warning("serving WITHOUT authentication on %s: anyone who can reach it can read and run tasks", host)
    app = create_app(open_storage(db), settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), ws_max_size=settings.max_body_bytes,
                ws_ping_interval=20, ws_ping_timeout=20, proxy_headers=False, server_header=False)


def _store(db: str | None) -> Storage:
    url = resolve_url(db)
    if is_server_url(url):
        raise ConfigurationError("credentials live in the database: pass the server's database with --db "
                                 "(sqlite:///… or postgresql://…)")
    return open_storage(url)


async def _with_store(db: str | None, fn: Any) -> Any:
    store = _store(db)
    await store.open()
    try:
        if not hasattr(store, "add_credential"):
            raise ConfigurationError(f"{store.url} keeps no credentials: use SQLite or PostgreSQL")
        return await fn(store)
    finally:
        await store.close()


def _add(kind: Literal["client", "worker"], name: str, namespace: str, db: str | None) -> str:
    validate_name(name, f"{kind} name")
    validate_name(namespace, "namespace")
    if kind == "worker":
        secret = signing.new_worker_secret()
        asyncio.run(_with_store(db, lambda s: s.add_credential("worker", name, namespace, secret=secret)))
        return secret
    key = signing.new_api_key()
    asyncio.run(_with_store(db, lambda s: s.add_credential("client", name, namespace,
                                                           key_hash=signing.hash_key(key))))
    return key


@auth_app.command("add-worker")
@friendly
def add_worker(worker_id: Annotated[str, typer.Argument(help="The worker's id (it signs in with it).")],
               namespace: NamespaceOption = DEFAULT_NAMESPACE, db: DbOption = None) -> None:
    """Create a worker credential and print its secret (shown once: give it to the worker as
    $TREADLE_WORKER_TOKEN)."""
    typer.echo(_add("worker", worker_id, namespace, db))


@auth_app.command("add-client")
@friendly
def add_client(name: Annotated[str, typer.Argument(help="A name for the client (shown in `auth ls`).")],
               namespace: NamespaceOption = DEFAULT_NAMESPACE, db: DbOption = None) -> None:
    """Create a client API key and print it (shown once; only its hash is stored): give it to the client
    as $TREADLE_API_KEY."""
    typer.echo(_add("client", name, namespace, db))


@auth_app.command("ls")
@friendly
def list_credentials(db: DbOption = None) -> None:
    """List credentials (never their secrets)."""
    creds = asyncio.run(_with_store(db, lambda s: s.list_credentials()))
    output.console().print(output.credentials_table(creds))


@auth_app.command("revoke")
@friendly
def revoke(kind: Annotated[str, typer.Argument(help="worker or client")],
           name: Annotated[str, typer.Argument(help="The worker id or client name.")], db: DbOption = None) -> None:
    """Revoke a credential: refused from now on, its open connections dropped within a second."""
    if kind not in ("worker", "client"):
        raise ConfigurationError(f"revoke takes 'worker' or 'client', not {kind!r}")
    if not asyncio.run(_with_store(db, lambda s: s.revoke_credential(kind, name))):
        raise ConfigurationError(f"no active {kind} named {name!r}")
    typer.echo(f"revoked {kind} {name}")


def register(app: typer.Typer) -> None:
    """Add `server`, `auth` and `workers` to the main CLI."""
    app.add_typer(auth_app, name="auth")

    @app.command()
    @friendly
    def server(
        db: DbOption = None,
        host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 52710,
        insecure: Annotated[bool, typer.Option(
            "--insecure", help="Serve without authentication (any caller, every namespace).")] = False,
        max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1024,
                                                    help="Largest request or WebSocket message.")] = 16 * 1024 * 1024,
        tasks: Annotated[list[str] | None, typer.Option(
            "--tasks", "-t", help="Modules whose tasks submissions are checked against (unknown names refused).")
        ] = None,
        log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
    ) -> None:
        """Serve the REST API, the worker WebSocket, /metrics and /docs over a database."""
        sys.path.insert(0, os.getcwd())
        settings = ServerSettings(insecure=insecure, max_body_bytes=max_body_bytes,
                                  task_modules=tuple(split_values(tasks)))
        serve(resolve_url(db), host, port, settings, log_level)

    @app.command()
    @friendly
    def workers(url: UrlOption = None, namespace: NamespaceOption = DEFAULT_NAMESPACE) -> None:
        """List the workers connected to a treadle server (--url http://host:52710), with their resource
        info and running tasks."""
        with open_client(url, namespace) as client:
            found = client.workers()
        output.console().print(output.workers_table(found))
