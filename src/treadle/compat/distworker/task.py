"""`Task`: DistWorker's view of one task attempt, built from treadle's `TaskContext`.

treadle has no file store, so a task's files travel in its metadata: `metadata["files"]` is a
list of objects with `file_id`, `filename` and `storage_url` (and whatever else the submitter
adds, such as `content_type` or `size`). Submit them with
`client.submit_task("files.resize", {...}).metadata(files=[{...}])`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...engine.context import TaskContext
from ...errors import TaskValidationError

FILE_FIELDS = ("file_id", "filename", "storage_url")


def _files(task_id: str, value: Any) -> list[dict[str, Any]]:
    """The `files` metadata, checked: a malformed list fails the attempt at once rather than deep in a handler."""
    if not isinstance(value, list):
        raise TaskValidationError(f"task {task_id}: metadata 'files' must be a list of objects with "
                                  f"{', '.join(FILE_FIELDS)}, got {value!r}", error_code="INVALID_FILES")
    for i, item in enumerate(value):
        missing = [k for k in FILE_FIELDS if not isinstance(item, dict) or not isinstance(item.get(k), str)]
        if missing:
            raise TaskValidationError(f"task {task_id}: metadata 'files' item {i} needs the string field(s) "
                                      f"{', '.join(missing)}, got {item!r}", error_code="INVALID_FILES")
    return value


def _input(ctx: TaskContext) -> dict[str, Any]:
    """The task's keyword input: DistWorker input is one JSON object, which treadle keeps as keyword arguments.

    A task submitted with positional arguments has no such object; guessing one would hand the
    handler data it never asked for, so the attempt fails at once, saying how to submit it.
    """
    if ctx.args:
        raise TaskValidationError(
            f"task {ctx.task_id} ({ctx.name}) was submitted with positional arguments {ctx.args!r}, but a "
            "DistWorker handler reads one JSON object: submit a dict, e.g. client.submit_task(name, {...})",
            error_code="INVALID_ARGUMENTS")
    return ctx.kwargs


@dataclass(slots=True)
class Task:
    """One task as a DistWorker handler sees it: id, queue, timeout, metadata, input and files.

    `queue` is the treadle task name the task was submitted under; `timeout_ms` is its
    per-attempt timeout in milliseconds, 0 when it has none. `context` is treadle's
    `TaskContext` (attempt number, cancellation, heartbeats) for handlers that want more;
    it is None for a `Task` made by hand, e.g. to unit-test a handler.
    """

    task_id: str
    queue: str
    timeout_ms: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    input_data: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    context: TaskContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_context(cls, ctx: TaskContext) -> Task:
        """The task the attempt `ctx` describes."""
        timeout_ms = 0 if ctx.timeout_seconds is None else round(ctx.timeout_seconds * 1000)
        return cls(task_id=ctx.task_id, queue=ctx.name, timeout_ms=timeout_ms, metadata=ctx.metadata,
                   input_data=_input(ctx), files=_files(ctx.task_id, ctx.metadata.get("files", [])), context=ctx)

    def get_input(self, key: str, default: Any = None) -> Any:
        """One input value, or `default` when the submitter left it out."""
        return self.input_data.get(key, default)

    def get_metadata(self, key: str, default: Any = None) -> Any:
        """One metadata value, or `default` when the submitter left it out."""
        return self.metadata.get(key, default)

    def get_file_by_id(self, file_id: str) -> dict[str, Any] | None:
        """The file with this id, or None."""
        return next((f for f in self.files if f.get("file_id") == file_id), None)

    def get_files_by_name(self, filename: str) -> list[dict[str, Any]]:
        """Every file with this name (names need not be unique)."""
        return [f for f in self.files if f.get("filename") == filename]
