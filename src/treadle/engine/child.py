"""The child side of process mode: one task attempt in its own process (Azolla's one-task-per-process model).

The parent passes only names and JSON-ready data; the child imports the task by module and
qualified name, runs it, and sends back the encoded result or the error, plus any heartbeats
and progress on the way. A cancel message from the parent sets the context's cancel flag.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..core import serde
from ..core.records import ErrorInfo, Progress
from ..core.task import HandlerDefinition, TaskDefinition, definition_of, handler_definition
from ..errors import ConfigurationError, SerializationError
from .context import Reporter, TaskContext, bind_context, unbind_context


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """What a child needs to find and run one attempt (all picklable primitives)."""

    module: str
    qualname: str
    handler_pattern: str | None
    context: dict[str, Any]


def import_task(module: str, qualname: str) -> Any:
    """What `module.qualname` names, imported afresh in a task's own process."""
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot import {module}.{qualname} in the task process (a task run in a "
                                 f"process of its own must be defined at module level): {exc}") from exc
    return obj


def _resolve(spec: ChildSpec) -> TaskDefinition | HandlerDefinition:
    obj = import_task(spec.module, spec.qualname)
    if spec.handler_pattern is not None:
        return handler_definition(spec.handler_pattern, obj)
    return definition_of(obj)


def _execute(target: TaskDefinition | HandlerDefinition, ctx: TaskContext) -> Any:
    if isinstance(target, HandlerDefinition):
        value = target.fn(ctx)
    else:
        args, kwargs = target.validate(ctx.args, ctx.kwargs)
        value = target.call(*args, **kwargs)
    if asyncio.iscoroutine(value):
        value = asyncio.run(value)
    return value


def child_main(conn: Connection, spec: ChildSpec) -> None:
    """Entry point of the task process."""
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            conn.send(message)

    reporter = Reporter(heartbeat=lambda _ctx, seconds: send(("heartbeat", seconds)),
                        progress=lambda _ctx, p: send(("progress", p.to_dict())))
    ctx = TaskContext(reporter=reporter, **spec.context)

    def listen() -> None:
        try:
            while True:
                if conn.recv() == "cancel":
                    ctx.cancel()
        except (EOFError, OSError):
            return

    threading.Thread(target=listen, daemon=True).start()
    token = bind_context(ctx)
    try:
        value = _execute(_resolve(spec), ctx)
        send(("result", serde.dumps(value, what=f"the result of task {ctx.name}")))
    except SerializationError as exc:
        send(("error", ErrorInfo.from_exception(exc).to_dict() | {"retryable": False}))
    except BaseException as exc:
        send(("error", ErrorInfo.from_exception(exc).to_dict()))
    finally:
        unbind_context(token)


def progress_from(data: dict[str, Any]) -> Progress:
    """Rebuild progress sent by a child."""
    return Progress.from_dict(data)
