"""How tasks look on a terminal: tables, one-task views and JSON."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import orjson

from ..core.records import TaskInfo
from ..core.states import TaskStatus

if TYPE_CHECKING:       # rich is loaded by the commands that print tables, not by `treadle worker`
    from rich.console import Console
    from rich.table import Table

STATUS_STYLE = {
    TaskStatus.PENDING: "yellow", TaskStatus.RUNNING: "cyan", TaskStatus.SUCCEEDED: "green",
    TaskStatus.FAILED: "red", TaskStatus.CANCELLED: "magenta",
}


def when(ts: float | None) -> str:
    """A timestamp as local time, or a dash."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def short(value: Any, width: int = 60) -> str:
    """A value as compact JSON, cut to `width` characters."""
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def status_text(status: TaskStatus) -> str:
    """The status, coloured."""
    return f"[{STATUS_STYLE[status]}]{status.value}[/]"


def outcome_text(info: TaskInfo, width: int = 60) -> str:
    """The result, the error, or the progress of a task, whichever says most."""
    if info.status is TaskStatus.SUCCEEDED:
        return short(info.result, width)
    if info.error is not None and info.status is not TaskStatus.RUNNING:
        return str(info.error)[:width]
    if info.progress is not None:
        pct = "" if info.progress.percent is None else f"{info.progress.percent:.0f}% "
        return (pct + (info.progress.message or ""))[:width]
    return ""


def task_table(tasks: list[TaskInfo], *, ids: bool = True) -> Table:
    """A table of tasks, one per row (`ids=False` leaves out the id and creation columns)."""
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    if ids:
        table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("name", no_wrap=True, min_width=max((len(i.name) for i in tasks), default=4))
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("attempts", no_wrap=True, min_width=8)
    if ids:
        table.add_column("created", no_wrap=True)
    table.add_column("result / error / progress", overflow="ellipsis", no_wrap=True)
    for info in tasks:
        row = [info.name, status_text(info.status), f"{info.attempts}/{info.max_attempts}"]
        if ids:
            row = [info.id, *row, when(info.created_at)]
        table.add_row(*row, outcome_text(info))
    return table


def task_lines(tasks: list[TaskInfo]) -> str:
    """Tab-separated rows for pipes (id, name, status, attempts, created, outcome)."""
    return "".join("\t".join([info.id, info.name, info.status.value, f"{info.attempts}/{info.max_attempts}",
                              when(info.created_at), outcome_text(info, 200)]) + "\n" for info in tasks)


def task_detail(info: TaskInfo) -> Table:
    """Every field of one task, as a two-column table."""
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("id", info.id), ("name", info.name), ("namespace", info.namespace), ("status", status_text(info.status)),
        ("attempts", f"{info.attempts} of {info.max_attempts}"), ("priority", str(info.priority)),
        ("args", short(info.args, 200)), ("kwargs", short(info.kwargs, 200)),
        ("created", when(info.created_at)), ("run after", when(info.run_after)),
        ("started", when(info.started_at)), ("finished", when(info.finished_at)),
    ]
    if info.metadata:
        rows.append(("metadata", short(info.metadata, 200)))
    if info.progress is not None:
        rows.append(("progress", outcome_text(info, 200) if info.status is TaskStatus.RUNNING else
                     f"{info.progress.percent}% {info.progress.message or ''}"))
    if info.cancel_requested and not info.status.is_terminal:
        rows.append(("cancel", "requested"))
    if info.status is TaskStatus.SUCCEEDED:
        rows.append(("result", short(info.result, 2000)))
    for err in info.errors:
        rows.append((f"attempt {err.attempt or '?'}", f"[red]{err}[/]"))
    for key, value in rows:
        table.add_row(key, value)
    return table


def to_json(info: TaskInfo) -> str:
    """One task as a JSON object (errors and progress included)."""
    data = {f: getattr(info, f) for f in info.__dataclass_fields__}
    data["status"] = info.status.value
    data["error"] = info.error.to_dict() if info.error else None
    data["errors"] = [e.to_dict() for e in info.errors]
    data["progress"] = info.progress.to_dict() if info.progress else None
    return orjson.dumps(data).decode()


def new_table(*columns: str, **options: Any) -> Table:
    """A rich table; rich is imported here, by the commands that print one."""
    from rich.table import Table

    return Table(*columns, **options)


def console(stderr: bool = False) -> Console:
    """A console that does not wrap JSON or ids in pipes."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def credentials_table(creds: list[Any]) -> Table:
    """Credentials (`storage.auth_store.Credential`), without their secrets."""
    from rich.table import Table

    table = Table("kind", "name", "namespace", "created", "status")
    for c in creds:
        status = "active" if c.revoked_at is None else f"[red]revoked {when(c.revoked_at)}[/]"
        table.add_row(c.kind, c.name, c.namespace, when(c.created_at), status)
    return table


def workers_table(workers: list[dict[str, Any]]) -> Table:
    """Workers connected to a server, as `Client.workers()` returns them."""
    from rich.table import Table

    table = Table("worker", "address", "connected", "resources", "running")
    for w in workers:
        running = w.get("running") or []
        table.add_row(str(w["worker_id"]), str(w.get("address") or "-"), when(w.get("connected_at")),
                      short(w.get("resource_info") or {}, 40),
                      f"{len(running)}: {', '.join(running[:3])}{' …' if len(running) > 3 else ''}" if running
                      else "0")
    return table
