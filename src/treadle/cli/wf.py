"""`treadle wf start | ls | show | history | raise | cancel | delete`: orchestrations from the shell."""


import json as jsonlib
from typing import Annotated

import orjson
import typer

from ..core.ids import new_id
from ..core.records import DEFAULT_NAMESPACE, InstanceInfo
from ..errors import ConfigurationError
from . import output
from .common import NamespaceOption, UrlOption, fail, friendly, open_client, parse_json

app = typer.Typer(no_args_is_help=True, help="Durable orchestrations: start, inspect, signal, cancel.")

STATUS_STYLE = {"running": "cyan", "completed": "green", "failed": "red", "terminated": "magenta"}


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _info_json(info: InstanceInfo) -> str:
    return orjson.dumps({f: getattr(info, f) for f in info.__dataclass_fields__}).decode()


@app.command()
@friendly
def start(
    name: Annotated[str, typer.Argument(help="Orchestration name.")],
    instance_id: Annotated[str | None, typer.Option("--id", help="Instance id (default: a new one).")] = None,
    input: Annotated[str | None, typer.Option("--input", help="JSON input.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the output and print it.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="With --wait: give up after this long.")] = None,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Start an orchestration instance and print its id (starting an existing id does nothing)."""
    payload = parse_json(input, "--input")
    instance = instance_id or new_id()
    with open_client(url, namespace) as client:
        client.start_orchestration(instance, name, payload)
        if not wait:
            typer.echo(instance)
            return
        info = client.wait_for_orchestration(instance, timeout)
    if info.status == "completed":
        typer.echo(orjson.dumps(info.output).decode())
        return
    fail(f"orchestration {instance} {info.status}: {(info.error or {}).get('message', '')}")


@app.command("ls")
@friendly
def list_instances(
    name: Annotated[str | None, typer.Option("--name", "-n", help="Orchestration name.")] = None,
    status: Annotated[str | None, typer.Option("--status", "-s",
                                               help="running, completed, failed or terminated.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """List instances, newest first."""
    with open_client(url, namespace) as client:
        infos = client.list_orchestrations(name=name, status=status, limit=limit)
    console = output.console()
    if json or not console.is_terminal:
        for info in infos:
            typer.echo(_info_json(info) if json else
                       "\t".join([info.instance_id, info.name, info.status, str(info.execution),
                                  output.when(info.created_at)]))
        return
    table = output.new_table(header_style="bold")
    for column in ("instance", "name", "status", "execution", "created", "custom status"):
        table.add_column(column, no_wrap=column != "custom status")
    for info in infos:
        table.add_row(info.instance_id, info.name, _status(info.status), str(info.execution),
                      output.when(info.created_at), output.short(info.custom_status, 40))
    console.print(table)


@app.command()
@friendly
def show(
    instance_id: Annotated[str, typer.Argument(help="Instance id.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Show one instance: status, output or error, custom status, children."""
    with open_client(url, namespace) as client:
        info = client.get_orchestration(instance_id)
        tree = client.orchestration_tree(instance_id)
    if json:
        typer.echo(_info_json(info))
        return
    table = output.new_table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [("instance", info.instance_id), ("name", info.name), ("status", _status(info.status)),
            ("execution", str(info.execution)), ("input", output.short(info.input, 200)),
            ("created", output.when(info.created_at)), ("finished", output.when(info.finished_at))]
    if info.custom_status is not None:
        rows.append(("custom status", f"{output.short(info.custom_status, 200)} (v{info.custom_status_version})"))
    if info.status == "completed":
        rows.append(("output", output.short(info.output, 2000)))
    if info.error:
        rows.append(("error", f"[red]{info.error.get('error_type', 'Error')}: {info.error.get('message', '')}[/]"))
    for c in tree["children"]:
        rows.append(("child", f"{c['instance_id']} {c['name']} {_status(c['status'])}"))
    for key, value in rows:
        table.add_row(key, value)
    output.console().print(table)


@app.command()
@friendly
def history(
    instance_id: Annotated[str, typer.Argument(help="Instance id.")],
    execution: Annotated[int | None, typer.Option("--execution", "-e", help="Default: the current one.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON lines (kind and data).")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Print an execution's history, one event per line."""
    with open_client(url, namespace) as client:
        client.get_orchestration(instance_id)
        events = client.read_history(instance_id, execution)
    for position, event in enumerate(events, 1):
        if json:
            typer.echo(orjson.dumps(event.to_dict()).decode())
        else:
            typer.echo(f"{position:4d}  {event.kind:28s} {jsonlib.dumps(event.data, default=str)}")


@app.command("raise")
@friendly
def raise_event(
    instance_id: Annotated[str, typer.Argument(help="Instance id.")],
    event: Annotated[str, typer.Argument(help="Event name.")],
    data: Annotated[str | None, typer.Option("--data", help="JSON data.")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Append to the queue EVENT instead.")] = False,
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Raise an external event (or, with --queue, enqueue a message) for an instance."""
    payload = parse_json(data, "--data")
    with open_client(url, namespace) as client:
        delivered = (client.enqueue_event if queue else client.raise_event)(instance_id, event, payload)
    if not delivered:
        raise ConfigurationError(f"orchestration {instance_id} has ended; the event was not delivered")
    typer.echo(f"{instance_id} {event}: delivered")


@app.command()
@friendly
def cancel(
    instance_id: Annotated[str, typer.Argument(help="Instance id.")],
    reason: Annotated[str, typer.Option("--reason")] = "cancelled",
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Terminate a running instance (and its children); its open activities are cancelled."""
    with open_client(url, namespace) as client:
        changed = client.terminate_orchestration(instance_id, reason)
        status = client.get_orchestration(instance_id).status
    typer.echo(f"{instance_id} {status}" + ("" if changed else " (had already ended)"))


@app.command()
@friendly
def delete(
    instance_id: Annotated[str, typer.Argument(help="Instance id.")],
    url: UrlOption = None,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
) -> None:
    """Delete an instance with its history and children (a running one is terminated first)."""
    with open_client(url, namespace) as client:
        client.delete_orchestration(instance_id)
    typer.echo(f"{instance_id} deleted")
