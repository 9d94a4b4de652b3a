"""Running one attempt: async tasks on the event loop, sync tasks in a thread pool, or any task in its own process.

Every path ends in an `AttemptResult`; nothing here decides retries or touches storage.
Timeouts: an async task is cancelled, a process is killed, a thread cannot be stopped (it is
told through `is_cancelled()` and its result is ignored), so use process mode for hard limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from ..core import serde
from ..core.attempt import AttemptCancelled, AttemptFailed, AttemptResult, AttemptSucceeded
from ..core.records import ErrorInfo
from ..core.task import HandlerDefinition, TaskDefinition
from ..errors import ConfigurationError, SerializationError, TaskTimeoutError
from .context import TaskContext, bind_context, unbind_context

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

Mode = Literal["thread", "process"]
Target = TaskDefinition | HandlerDefinition
CANCEL_GRACE_SECONDS = 5.0


def _timeout_error(seconds: float, attempt: int) -> AttemptFailed:
    exc = TaskTimeoutError(f"the attempt ran longer than its timeout of {seconds:g}s")
    return AttemptFailed(ErrorInfo.from_exception(exc, attempt=attempt, at=time.time()))


def _failure(exc: BaseException, attempt: int) -> AttemptFailed:
    info = ErrorInfo.from_exception(exc, attempt=attempt, at=time.time())
    if isinstance(exc, SerializationError):
        info = ErrorInfo.from_dict(info.to_dict() | {"retryable": False})
    return AttemptFailed(info)


def _call_sync(target: Target, ctx: TaskContext) -> str:
    token = bind_context(ctx)
    try:
        if isinstance(target, HandlerDefinition):
            value = target.fn(ctx)
        else:
            args, kwargs = target.validate(ctx.args, ctx.kwargs)
            value = target.call(*args, **kwargs)
        return serde.dumps(value, what=f"the result of task {ctx.name}")
    finally:
        unbind_context(token)


async def _call_async(target: Target, ctx: TaskContext) -> str:
    if isinstance(target, HandlerDefinition):
        value = await target.fn(ctx)
    else:
        args, kwargs = target.validate(ctx.args, ctx.kwargs)
        value = await target.call(*args, **kwargs)
    return serde.dumps(value, what=f"the result of task {ctx.name}")


class Execution:
    """One running attempt, which the worker can interrupt (cancel request, lost lease, shutdown)."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self._inner: asyncio.Task[Any] | None = None
        self._conn: Connection | None = None
        self._kill_at: float | None = None

    def interrupt(self, *, lease_lost: bool = False) -> None:
        """Ask the attempt to stop: cancel flag for everyone, plus a real interrupt where possible."""
        self.ctx.cancel(lease_lost=lease_lost)
        if self._inner is not None:
            self._inner.cancel()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send("cancel")
            if self._kill_at is None:
                self._kill_at = time.monotonic() + CANCEL_GRACE_SECONDS


class Executor:
    """Runs attempts in the chosen mode; owns the thread pool and the process start method."""

    def __init__(self, *, mode: Mode = "thread", threads: int = 8, start_method: str | None = None) -> None:
        if mode not in ("thread", "process"):
            raise ConfigurationError(f"mode must be 'thread' or 'process', got {mode!r}")
        self.mode = mode
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="treadle-task")
        self._stuck: set[asyncio.Future[str]] = set()
        self._mp: Any = None
        if mode == "process":       # loaded for process mode only: most workers never fork
            import multiprocessing

            self._mp = multiprocessing.get_context(start_method or "spawn")

    @property
    def stuck(self) -> int:
        """Threads still running attempts that timed out: they hold a pool slot until they return."""
        return len(self._stuck)

    def close(self) -> None:
        """Stop the thread pool without waiting for stuck threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, target: Target, execution: Execution) -> AttemptResult:
        """Run one attempt to its end and describe how it ended.

        Await it in a task of its own (the worker makes one per attempt): interrupting an async
        attempt without a timeout cancels that task.
        """
        ctx = execution.ctx
        try:
            if self.mode == "process":
                return await self._run_process(target, execution)
            if target.is_async:
                return await self._run_async(target, execution)
            return await self._run_thread(target, ctx)
        except asyncio.CancelledError:
            if ctx.is_cancelled():
                current = asyncio.current_task()
                if current is not None and execution._inner is current:
                    current.uncancel()      # our own interrupt, now handled: the task goes on normally
                return AttemptCancelled("lease lost" if ctx.lease_lost else "cancelled while running")
            raise
        except Exception as exc:
            return _failure(exc, ctx.attempt)

    async def _run_async(self, target: Target, execution: Execution) -> AttemptResult:
        ctx = execution.ctx
        if ctx.timeout_seconds is None:
            # No deadline to enforce: run in the attempt's own task (the worker made one per attempt,
            # with its own context), which is what an interrupt then cancels.
            execution._inner = asyncio.current_task()
            token = bind_context(ctx)
            try:
                return AttemptSucceeded(await _call_async(target, ctx))
            finally:
                unbind_context(token)
        context = contextvars.copy_context()
        context.run(bind_context, ctx)
        inner = asyncio.get_running_loop().create_task(_call_async(target, ctx), context=context)
        execution._inner = inner
        try:
            return AttemptSucceeded(await asyncio.wait_for(inner, ctx.timeout_seconds))
        except TimeoutError:
            if ctx.timeout_seconds is not None and not ctx.is_cancelled():
                return _timeout_error(ctx.timeout_seconds, ctx.attempt)
            raise

    async def _run_thread(self, target: Target, ctx: TaskContext) -> AttemptResult:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, _call_sync, target, ctx)
        try:
            return AttemptSucceeded(await asyncio.wait_for(asyncio.shield(future), ctx.timeout_seconds))
        except TimeoutError:
            ctx.cancel()
            self._stuck.add(future)
            future.add_done_callback(self._forget)
            assert ctx.timeout_seconds is not None
            return _timeout_error(ctx.timeout_seconds, ctx.attempt)

    def _forget(self, future: asyncio.Future[str]) -> None:
        self._stuck.discard(future)
        if not future.cancelled():
            future.exception()       # retrieved: the attempt was already recorded as timed out

    async def _run_process(self, target: Target, execution: Execution) -> AttemptResult:
        from .child import ChildSpec, child_main

        assert self._mp is not None
        ctx = execution.ctx
        fn = target.fn if isinstance(target, HandlerDefinition) else target.call
        module = getattr(target, "module", None) or getattr(fn, "__module__", None)
        qualname = getattr(target, "qualname", None) or getattr(fn, "__qualname__", None)
        if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
            raise ConfigurationError(f"task {ctx.name} cannot run in process mode: define it at module level")
        spec = ChildSpec(module=module, qualname=qualname,
                         handler_pattern=target.pattern.text if isinstance(target, HandlerDefinition) else None,
                         context={k: getattr(ctx, k) for k in (
                             "task_id", "name", "namespace", "attempt", "max_attempts", "args", "kwargs",
                             "metadata", "timeout_seconds", "worker_id")})
        parent, child = self._mp.Pipe()
        process = self._mp.Process(target=child_main, args=(child, spec), daemon=True)
        await asyncio.to_thread(process.start)
        child.close()
        execution._conn = parent
        try:
            return await self._supervise(process, parent, execution)
        finally:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, 5)
            parent.close()

    async def _supervise(self, process: Any, conn: Connection, execution: Execution) -> AttemptResult:
        ctx = execution.ctx
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def readable() -> None:
            try:
                while conn.poll():
                    inbox.put_nowait(conn.recv())
            except (EOFError, OSError):
                loop.remove_reader(conn.fileno())
                inbox.put_nowait(("exit", None))

        loop.add_reader(conn.fileno(), readable)
        deadline = None if ctx.timeout_seconds is None else time.monotonic() + ctx.timeout_seconds
        try:
            while True:
                limits = [t for t in (deadline, execution._kill_at) if t is not None]
                wait = None if not limits else max(0.0, min(limits) - time.monotonic())
                try:
                    kind, data = await asyncio.wait_for(inbox.get(), min(wait, 0.5) if wait is not None else 0.5)
                except TimeoutError:
                    if execution._kill_at is not None and time.monotonic() >= execution._kill_at:
                        return AttemptCancelled("cancelled; the task process was killed")
                    if deadline is not None and time.monotonic() >= deadline:
                        return _timeout_error(ctx.timeout_seconds or 0.0, ctx.attempt)
                    continue
                result = self._on_message(kind, data, process, ctx)
                if result is not None:
                    return result
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(conn.fileno())

    @staticmethod
    def _on_message(kind: str, data: Any, process: Any, ctx: TaskContext) -> AttemptResult | None:
        if kind == "result":
            return AttemptSucceeded(data)
        if kind == "error":
            return AttemptFailed(ErrorInfo.from_dict(data | {"attempt": ctx.attempt}))
        if kind == "progress":
            from .child import progress_from

            ctx.reporter.progress(ctx, progress_from(data))
        elif kind == "heartbeat":
            ctx.reporter.heartbeat(ctx, data)
        elif kind == "exit":
            process.join(1)
            if ctx.is_cancelled():
                return AttemptCancelled("cancelled; the task process exited")
            info = ErrorInfo(message=f"the task process died (exit code {process.exitcode})",
                             error_type="TaskProcessDied", retryable=True, attempt=ctx.attempt, at=time.time())
            return AttemptFailed(info)
        return None
