"""A DistWorker-style worker for math, text and data tasks: `python -m examples.distworker.basic_worker`.

The DistWorker README's `python -m distworker.examples.basic_worker`, on treadle. Everything
comes from the environment: $DISTWORKER_CONTROLLER_URL (a treadle server's ws://host:port/ws),
$DISTWORKER_WORKER_ID and $DISTWORKER_WORKER_TOKEN (from `treadle auth add-worker NAME`). The
task name picks the operation:

- `math.add|subtract|multiply|divide|power` with {"a": 2, "b": 3}: {"result": 5}
- `text.upper|lower|reverse|word_count` with {"text": "..."}: {"result": ...}
- `data.sort|sum|stats` with {"items": [numbers]}: {"result": ...}, reporting progress

An unknown operation or bad input raises `ValueError`, which fails the attempt (retried per
the task's policy). Runs until Ctrl-C or SIGTERM, letting a running task finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import statistics
from collections.abc import Callable
from typing import Any

from treadle.compat.distworker import Task, Worker

MATH: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
    "divide": operator.truediv, "power": operator.pow,
}
TEXT: dict[str, Callable[[str], Any]] = {
    "upper": str.upper, "lower": str.lower, "reverse": lambda s: s[::-1], "word_count": lambda s: len(s.split()),
}


def operation_of(task: Task, table: dict[str, Any]) -> Any:
    """The function the last part of the task's name names (`math.add` -> add)."""
    name = task.queue.rsplit(".", 1)[-1]
    if name not in table:
        raise ValueError(f"Unknown operation: {name} (known: {', '.join(sorted(table))})")
    return table[name]


def number(task: Task, key: str) -> float:
    """An input that must be a number."""
    value = task.get_input(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"input {key!r} must be a number, got {value!r}")
    return value


async def handle_math(task: Task) -> dict[str, Any]:
    """`math.<operation>` on inputs a and b."""
    fn = operation_of(task, MATH)
    a, b = number(task, "a"), number(task, "b")
    if fn is operator.truediv and b == 0:
        raise ValueError("division by zero")
    return {"result": fn(a, b)}


async def handle_text(task: Task) -> dict[str, Any]:
    """`text.<operation>` on input text."""
    fn = operation_of(task, TEXT)
    text = task.get_input("text")
    if not isinstance(text, str):
        raise ValueError(f"input 'text' must be a string, got {text!r}")
    return {"result": fn(text)}


async def handle_data(task: Task) -> dict[str, Any]:
    """`data.sort|sum|stats` on input items, reporting progress as it goes."""
    name = task.queue.rsplit(".", 1)[-1]
    items = task.get_input("items")
    if not isinstance(items, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                              for x in items):
        raise ValueError(f"input 'items' must be a list of numbers, got {items!r}")
    await worker.send_task_progress(10.0, f"validated {len(items)} items")
    if name == "sort":
        result: Any = sorted(items, reverse=bool(task.get_input("descending", False)))
    elif name == "sum":
        result = sum(items)
    elif name == "stats":
        if not items:
            raise ValueError("stats need at least one item")
        result = {"count": len(items), "min": min(items), "max": max(items), "mean": statistics.fmean(items)}
    else:
        raise ValueError(f"Unknown operation: {name} (known: sort, stats, sum)")
    await worker.send_task_progress(100.0, f"{name} done", {"items": len(items)})
    return {"result": result}


worker: Worker


async def main() -> None:
    """Serve math, text and data tasks until interrupted."""
    global worker
    worker = Worker(queue_patterns=["math.*", "text.*", "data.*"],
                    resource_info={"role": "basic", "handles": ["math", "text", "data"]})
    worker.register_handler("math.*", handle_math)
    worker.register_handler("text.*", handle_text)
    worker.register_handler("data.*", handle_data)
    await worker.start()
    print(f"worker {worker.worker_id} serving math.*, text.*, data.* at {worker.controller_url}", flush=True)
    try:
        await asyncio.Event().wait()      # until Ctrl-C or SIGTERM
    finally:
        await worker.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
