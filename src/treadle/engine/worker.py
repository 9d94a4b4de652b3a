"""The worker: claims tasks under leases, runs them, heartbeats, records outcomes, recovers expired leases.

`tick()` is one step (flush outcomes and progress, sweep expired leases, heartbeat, claim);
`run()` repeats it and sleeps until a change hint, a finished task or a timer wakes it.
Completions, progress and the next claim go to storage together, so on SQLite they share
one commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.attempt import AttemptCancelled, AttemptFailed, AttemptResult, AttemptSucceeded, outcome_of
from ..core.clock import Clock, SystemClock
from ..core.ids import new_token
from ..core.orchestration import Orchestration
from ..core.records import (
    DEFAULT_NAMESPACE,
    ClaimBatch,
    ClaimedTask,
    ErrorInfo,
    Failed,
    Handoff,
    Outcome,
    Progress,
    Succeeded,
)
from ..core.registry import Registry
from ..core.routing import Pattern, matches_any, parse_patterns
from ..core.task import TaskLike
from ..errors import AuthenticationError, ConfigurationError, ConnectionLostError, StorageError
from ..settings import WorkerSettings
from ..storage import DEFAULT_URL, Storage, is_server_url, open_storage
from ..storage.changes import WORK
from ..storage.wf_steps import DECISION_PREFIX, TIMER_TASK
from .context import Reporter, TaskContext
from .executor import Execution, Executor, Mode
from .orchestrator import Orchestrator

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one step did: tasks claimed, outcomes recorded, and when delayed work is next due."""

    claimed: int
    finished: int
    next_due: float | None
    asked: int = 0


@dataclass(slots=True)
class _Running:
    claimed: ClaimedTask
    execution: Execution
    task: asyncio.Task[None]
    cancel_requested: bool = False


def _outcome_counter(outcome: Outcome) -> str:
    if isinstance(outcome, Succeeded):
        return "tasks_succeeded"
    if isinstance(outcome, Failed):
        return "tasks_retried" if outcome.retry_delay is not None else "tasks_failed"
    return "tasks_cancelled"


async def _together(*steps: Awaitable[Any] | None) -> list[Any]:
    """Await the given steps at once; each one's result or exception, in order (None for a step not given).

    Steps not given cost nothing (`gather` makes a task of each). A lone step still gets a task of
    its own: it then starts on the loop's next turn, so a flush takes the outcomes of every attempt
    that ended meanwhile (a fan-out's decision replays once per flush).
    """
    active = [step for step in steps if step is not None]
    results = iter(await asyncio.gather(*active, return_exceptions=True))
    return [next(results) if step is not None else None for step in steps]


def default_worker_id() -> str:
    """host-pid-random: unique per process, so liveness is never keyed on a reused name."""
    return f"{socket.gethostname()}-{os.getpid()}-{new_token()[:6]}"


class Worker:
    """Claims and runs tasks from one storage URL.

    `tasks` are registered task objects; `patterns` (glob `math.*` or LIKE `billing.%`)
    restrict which of them this worker claims; handlers registered with `register_handler`
    are always claimed for their pattern. `concurrency` is the number of attempts run at once
    (threads for sync tasks). `mode="process"` runs each attempt in its own process.

    `url` defaults to `$TREADLE_URL`, then `sqlite:///treadle.db`. A treadle server URL
    (`http://host:52710` or `ws://host:52710/ws`) makes this a remote worker: it signs in as
    `worker_id` with `worker_token` (defaults `$TREADLE_WORKER_ID`, `$TREADLE_WORKER_TOKEN`),
    shows `resource_info` in `treadle workers`, receives work pushed over the WebSocket, and
    reconnects every `reconnect_interval` seconds (doubling, up to 30 s) when the server goes away,
    giving up after `max_reconnect_attempts` (-1: never) with `ConnectionLostError`.
    """

    def __init__(self, url: str | Storage | None = None, *, tasks: Iterable[TaskLike | Orchestration] = (),
                 patterns: Iterable[str] = (), concurrency: int = 8, mode: Mode = "thread",
                 namespace: str = DEFAULT_NAMESPACE, worker_id: str | None = None,
                 settings: WorkerSettings | None = None, start_method: str | None = None,
                 clock: Clock | None = None, worker_token: str | None = None,
                 resource_info: dict[str, Any] | None = None, reconnect_interval: float = 1.0,
                 max_reconnect_attempts: int = -1) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        url = url if url is not None else os.environ.get("TREADLE_URL", DEFAULT_URL)
        worker_id = worker_id or os.environ.get("TREADLE_WORKER_ID") or None
        self._owns_storage = isinstance(url, str)
        if isinstance(url, str) and is_server_url(url):
            worker_id = worker_id or default_worker_id()
            self.storage: Storage = open_storage(
                url, worker_id=worker_id, worker_token=worker_token or os.environ.get("TREADLE_WORKER_TOKEN"),
                resource_info=resource_info, reconnect_interval=reconnect_interval,
                max_reconnect_attempts=max_reconnect_attempts)
        else:
            self.storage = open_storage(url) if isinstance(url, str) else url
        self.registry = Registry()
        for item in tasks:
            if isinstance(item, Orchestration):
                self.registry.add_orchestration(item)
            else:
                self.registry.add(item)
        self.patterns = parse_patterns(tuple(patterns))
        self.concurrency = concurrency
        self.namespace = namespace
        self.worker_id = worker_id or default_worker_id()
        self.settings = settings or WorkerSettings()
        self.clock = clock or SystemClock()
        self._executor = Executor(mode=mode, threads=concurrency, start_method=start_method)
        self._running: dict[str, _Running] = {}
        self._reserved = 0      # slots promised to tasks a write in flight may lease to this worker
        self._took_all: tuple[int, float, float | None] | None = None   # (work token, recheck at, next due)
        self._outbox: list[Outcome] = []
        self._progress: dict[str, Progress] = {}
        self._extend: dict[str, float | None] = {}
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._hurry = False
        self.abandoned = 0
        self.orchestrator: Orchestrator | None = None
        self.counters: Counter[str] = Counter()
        self._timers = {"sweep": 0.0, "heartbeat": 0.0, "leases": 0.0, "sessions": 0.0}
        self._reporter = Reporter(heartbeat=self._report_heartbeat, progress=self._report_progress)

    # ---------------------------------------------------------------- registration

    def register_task(self, task: TaskLike) -> Worker:
        """Register a task (decorated function, `Task` class or instance); returns the worker."""
        self.registry.add(task)
        return self

    def register_handler(self, pattern: str, handler: Callable[[TaskContext], Any]) -> Worker:
        """Run `handler(ctx)` for every task whose name matches `pattern`; returns the worker."""
        self.registry.add_handler(pattern, handler)
        return self

    def register_orchestration(self, orchestration: Orchestration) -> Worker:
        """Run the decisions of an `@orchestration` (and the timers of every orchestration); returns the worker."""
        self.registry.add_orchestration(orchestration)
        return self

    @property
    def claim_patterns(self) -> tuple[Pattern, ...]:
        """The names and patterns this worker claims: only work it knows how to run."""
        names = [Pattern(n) for n in self.registry.names if not self.patterns or matches_any(self.patterns, n)]
        decisions = [Pattern(DECISION_PREFIX + n) for n in self.registry.orchestration_names]
        timers = [Pattern(TIMER_TASK)] if decisions else []
        return tuple(names) + self.registry.handler_patterns + tuple(decisions) + tuple(timers)

    @property
    def running(self) -> int:
        """How many attempts are running now."""
        return len(self._running)

    # ---------------------------------------------------------------- lifecycle

    def stop(self, *, hurry: bool = False) -> None:
        """Stop claiming and shut down gracefully (thread-safe); `hurry` skips the grace period."""
        self._hurry = self._hurry or hurry
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._request_stop)
        else:
            self._stopping = True

    def _request_stop(self) -> None:
        if self._stopping:
            self._hurry = True
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self) -> None:
        """Run until `stop()`; then let running tasks finish (within the grace period) and release the rest."""
        if not self.claim_patterns:
            raise ConfigurationError("this worker has no tasks or handlers to run (or none match its patterns)")
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        if self.registry.orchestration_names and self.orchestrator is None:
            self.orchestrator = Orchestrator(self.storage, self.registry, self.namespace)
        if self._owns_storage:
            await self.storage.open()
        logger.info("worker %s started", self.worker_id,
                    extra={"event": "worker_started", "worker_id": self.worker_id,
                           "patterns": [p.text for p in self.claim_patterns]})
        try:
            await self._loop_until_stopped()
            await self._drain()
        finally:
            self._executor.close()
            if self._owns_storage:
                await self.storage.close()
            logger.info("worker %s stopped", self.worker_id,
                        extra={"event": "worker_stopped", "worker_id": self.worker_id})

    def run_sync(self, *, handle_signals: bool = True) -> None:
        """Run in this thread until stopped; SIGTERM/SIGINT stop gracefully, a second one hurries."""

        async def main() -> None:
            if handle_signals:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self.stop)
            await self.run()

        asyncio.run(main())

    async def _loop_until_stopped(self) -> None:
        failures = 0
        while not self._stopping:
            token = self.storage.change_token(WORK)
            try:
                result = await self.tick()
                failures = 0
            except (AuthenticationError, ConnectionLostError):
                raise                  # refused or gone for good: retrying cannot help
            except Exception as exc:   # keep serving: a dead loop would orphan every running task
                failures += 1
                delay = min(5.0, 0.1 * 2 ** failures)
                logger.error("worker step failed, retrying in %.1fs: %s", delay, exc,
                             exc_info=not isinstance(exc, StorageError),
                             extra={"event": "worker_step_failed", "worker_id": self.worker_id})
                await self._sleep(delay)
                continue
            if result.claimed and result.claimed == result.asked:
                continue   # the batch was full: more work is probably waiting
            await self._idle(token, result.next_due)

    # ---------------------------------------------------------------- one step

    async def tick(self, now: float | None = None) -> TickResult:
        """One step: record outcomes and progress, sweep and heartbeat, and claim into free slots, all at once."""
        now = time.monotonic() if now is None else now
        free = 0 if self._stopping else self._free_slots()
        # finished activities lead to decisions: room for those is kept out of this claim
        handoff = self._handoff(min(free, sum(o.lease.workflow for o in self._outbox)))
        if handoff is not None:
            free -= handoff.room
        if not self._may_have_work(now):
            free = 0
        token = self.storage.change_token(WORK)     # before the claim: work announced during it counts
        try:
            # Maintenance goes beside the claim, not before it: a starting worker claims one round trip sooner.
            maintained, flushed, batch = await _together(
                self._maintain(now) if self._maintenance_due(now) else None,
                self._flush(handoff) if self._outbox or self._progress or self._extend else None,
                self._claim(free, now) if free > 0 else None)
        except BaseException:       # cancelled: what was leased to us expires and is swept
            self._end_handoff(handoff, started=False, now=now)
            raise
        self._end_handoff(handoff, started=not isinstance(flushed, BaseException), now=now)
        if isinstance(batch, ClaimBatch):   # fewer than asked: the claim took all there was, ask again on a change
            self._took_all = ((token, now + self.settings.poll_seconds, batch.next_due)
                                   if len(batch.tasks) < free else None)
        for failure in (flushed, batch, maintained):
            if isinstance(failure, BaseException):
                raise failure
        flushed = flushed or 0
        assert isinstance(flushed, int) and (batch is None or isinstance(batch, ClaimBatch))
        next_due = batch.next_due if batch else (self._took_all[2] if self._took_all else None)
        return TickResult(claimed=len(batch.tasks) if batch else 0, finished=flushed, next_due=next_due, asked=free)

    def _may_have_work(self, now: float) -> bool:
        """False when the last claim took all there was and nothing has changed since: no need to ask again.

        Work appears by a change hint (new, retried, released or recovered tasks), by a delayed task
        falling due, or unseen (a session freed by its owner's lease running out): the poll interval
        bounds how long that last kind waits.
        """
        if self._took_all is None:
            return True
        token, recheck_at, next_due = self._took_all
        return (self.storage.change_token(WORK) != token or now >= recheck_at
                or (next_due is not None and self.clock.now() >= next_due))

    def _free_slots(self) -> int:
        # A timed-out thread that has not returned still occupies a thread of the pool.
        return self.concurrency - len(self._running) - self._executor.stuck - self._reserved

    def _handoff(self, room: int) -> Handoff | None:
        """Reserve `room` slots for work our next write may lease to us (see `Handoff`)."""
        if room <= 0 or self._stopping or not self.registry.orchestration_names:
            return None
        names = frozenset(p.text for p in self.claim_patterns if p.is_exact and p.text != TIMER_TASK)
        self._reserved += room
        handoff = Handoff(worker_id=self.worker_id, lease_seconds=self.settings.lease_seconds, names=names, room=room)
        if self.orchestrator is not None:
            handoff.decider = self.orchestrator.decider(handoff)
        return handoff

    def _end_handoff(self, handoff: Handoff | None, *, started: bool, now: float) -> None:
        """Give the reserved slots back and run what the write leased to us (if it committed)."""
        if handoff is None:
            return
        self._reserved -= handoff.room
        if started:
            if self.orchestrator is not None:
                for decision in handoff.decided:
                    self.orchestrator.count(decision, True)
            for claimed in handoff.claimed:
                self._start(claimed, now)

    def _maintenance_due(self, now: float) -> bool:
        """Whether `_maintain` has anything to do now (most steps: nothing)."""
        t = self._timers
        return (now >= t["sweep"] or now >= t["sessions"]
                or (bool(self._running) and now >= min(t["heartbeat"], t["leases"])))

    async def _maintain(self, now: float) -> None:
        s = self.settings
        if now >= self._timers["sweep"]:
            self._timers["sweep"] = now + s.sweep_seconds
            reaped = await self.storage.reap_expired(self.namespace, 100)
            if reaped:
                logger.warning("recovered %d task(s) whose lease expired", reaped,
                               extra={"event": "leases_expired", "count": reaped, "worker_id": self.worker_id})
        if now >= self._timers["sessions"]:
            # sessions live as long as this worker does, busy or idle
            self._timers["sessions"] = now + s.heartbeat_seconds
            await self.storage.renew_sessions(self.namespace, self.worker_id, s.lease_seconds)
        if self._running and now >= self._timers["heartbeat"]:
            self._timers["heartbeat"] = now + s.heartbeat_seconds
            self._timers["leases"] = now + s.cancel_check_seconds
            await self._check_leases(extend=True)
        elif self._running and now >= self._timers["leases"]:
            self._timers["leases"] = now + s.cancel_check_seconds
            await self._check_leases(extend=False)

    async def _claim(self, free: int, now: float) -> ClaimBatch | None:
        """Claim into `free` slots and start what came back at once, without waiting for the flush beside it."""
        if free <= 0:
            return None
        batch = await self.storage.claim(namespace=self.namespace, worker_id=self.worker_id,
                                         patterns=self.claim_patterns, limit=free,
                                         lease_seconds=self.settings.lease_seconds)
        for claimed in batch.tasks:
            self._start(claimed, now)
        return batch

    def _start(self, claimed: ClaimedTask, now: float) -> None:
        ctx = TaskContext.for_claim(claimed, self.worker_id, self._reporter)
        execution = Execution(ctx)
        task = asyncio.get_running_loop().create_task(self._execute(claimed, execution))
        self._running[claimed.lease.token] = _Running(claimed, execution, task)
        if len(self._running) == 1:   # the first running task starts the heartbeat clock
            self._timers["heartbeat"] = now + self.settings.heartbeat_seconds
            self._timers["leases"] = now + self.settings.cancel_check_seconds

    async def _execute(self, claimed: ClaimedTask, execution: Execution) -> None:
        if claimed.name.startswith(DECISION_PREFIX) or claimed.name == TIMER_TASK:
            await self._execute_internal(claimed, execution)
            return
        target = self.registry.get(claimed.name) or self.registry.handler_for(claimed.name)
        result: AttemptResult
        try:
            if target is None:
                result = AttemptFailed(ErrorInfo(message=f"worker {self.worker_id} has no task named {claimed.name}",
                                                 error_type="UnknownTaskError", attempt=claimed.attempt))
            else:
                result = await self._executor.run(target, execution)
        except asyncio.CancelledError:
            self._running.pop(claimed.lease.token, None)
            raise
        running = self._running.pop(claimed.lease.token, None)
        cancel = running.cancel_requested if running else False
        outcome = outcome_of(claimed, result, cancel_requested=cancel, now=self.clock.now())
        self.counters[_outcome_counter(outcome)] += 1
        self._outbox.append(outcome)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _execute_internal(self, claimed: ClaimedTask, execution: Execution) -> None:
        """Decisions commit themselves (finishing their task); a timer's task only has to succeed."""
        result: AttemptResult = AttemptSucceeded("null")
        handoff = None
        try:
            if claimed.name != TIMER_TASK:
                if self.orchestrator is None:       # an orchestration registered after the worker started
                    self.orchestrator = Orchestrator(self.storage, self.registry, self.namespace)
                handoff = self._handoff(self._free_slots())
                decided = False
                try:
                    decided = await self.orchestrator.decide(claimed, handoff)
                finally:
                    self._end_handoff(handoff, started=decided, now=time.monotonic())
                if decided:
                    result = AttemptCancelled("recorded by the decision")   # already finished: nothing to add
        except asyncio.CancelledError:
            self._running.pop(claimed.lease.token, None)
            raise
        except Exception as exc:
            logger.warning("decision for %s failed: %s", claimed.kwargs.get("instance_id"), exc,
                           exc_info=True, extra={"event": "decision_failed", "task_id": claimed.id})
            result = AttemptFailed(ErrorInfo.from_exception(exc, attempt=claimed.attempt))
        self._running.pop(claimed.lease.token, None)
        if not isinstance(result, AttemptCancelled):
            self._outbox.append(outcome_of(claimed, result, cancel_requested=False, now=self.clock.now()))
        if self._wakeup is not None:
            self._wakeup.set()

    async def _flush(self, handoff: Handoff | None = None) -> int:
        outcomes, self._outbox = self._outbox, []
        progress, self._progress = self._progress, {}
        extend, self._extend = self._extend, {}
        calls: list[Any] = []
        if outcomes:
            calls.append(self.storage.finish(outcomes, handoff))
        for token, p in progress.items():
            if token in self._running:
                calls.append(self.storage.set_progress(self._running[token].claimed.lease, p))
        for token, seconds in extend.items():
            if token in self._running:
                calls.append(self.storage.renew([self._running[token].claimed.lease],
                                                seconds or self.settings.lease_seconds))
        # Progress a task reported just before it returned goes in before its outcome ends the lease.
        ending = {o.lease.token: o.lease for o in outcomes}
        last_words = [self.storage.set_progress(ending[t], p) for t, p in progress.items() if t in ending]
        if not calls and not last_words:
            return 0
        try:
            if last_words:
                await asyncio.gather(*last_words)
            results = await asyncio.gather(*calls)
        except Exception:
            self._outbox = outcomes + self._outbox   # keep them; the lease decides later whether they count
            raise
        if outcomes:
            self._log_refused(outcomes, results[0])
        return len(outcomes)

    def _log_refused(self, outcomes: list[Outcome], accepted: list[bool]) -> None:
        for outcome, ok in zip(outcomes, accepted, strict=True):
            if not ok:
                logger.warning("outcome of task %s refused: its lease was lost", outcome.lease.task_id,
                               extra={"event": "outcome_refused", "task_id": outcome.lease.task_id,
                                      "attempt": outcome.lease.attempt, "worker_id": self.worker_id})

    async def _check_leases(self, *, extend: bool) -> None:
        items = list(self._running.values())
        states = await self.storage.renew([r.claimed.lease for r in items],
                                          self.settings.lease_seconds if extend else None)
        for item, state in zip(items, states, strict=True):
            if item.task.done():
                continue
            if not state.alive:
                if item.claimed.name.startswith(DECISION_PREFIX):
                    # A decision finishes its own task when it commits, so its lease may be gone because
                    # it just committed; a lost one only makes the commit (fenced by it) record nothing.
                    continue
                logger.warning("lost the lease of task %s; interrupting it", item.claimed.id,
                               extra={"event": "lease_lost", "task_id": item.claimed.id, "worker_id": self.worker_id})
                item.execution.interrupt(lease_lost=True)
            elif state.cancel_requested and not item.cancel_requested:
                item.cancel_requested = True
                item.execution.interrupt()

    # ---------------------------------------------------------------- reports from running tasks

    def _report_progress(self, ctx: TaskContext, progress: Progress) -> None:
        stamped = Progress(percent=progress.percent, message=progress.message, data=progress.data,
                           at=progress.at or self.clock.now())
        # Look the dict up in the loop: `_flush` swaps it, and a report bound to the old one is lost.
        self._call_in_loop(lambda: self._progress.__setitem__(ctx.lease_token, stamped))

    def _report_heartbeat(self, ctx: TaskContext, seconds: float | None) -> None:
        self._call_in_loop(lambda: self._extend.__setitem__(ctx.lease_token, seconds))

    def _call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        def apply() -> None:
            fn(*args)
            if self._wakeup is not None:
                self._wakeup.set()

        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(apply)

    # ---------------------------------------------------------------- waiting and shutdown

    async def _idle(self, token: int, next_due: float | None) -> None:
        assert self._wakeup is not None
        timeout = self.settings.poll_seconds
        if next_due is not None:
            timeout = min(timeout, max(0.0, next_due - self.clock.now()))
        now = time.monotonic()
        timeout = min(timeout, max(0.0, self._timers["sweep"] - now))
        if self._running:
            timeout = min(timeout, max(0.0, min(self._timers["heartbeat"], self._timers["leases"]) - now))
        if self._wakeup.is_set():
            self._wakeup.clear()
            return
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wakeup.wait())]
        if self._free_slots() > 0:
            waits.append(asyncio.ensure_future(self.storage.wait_for_change(token, timeout, WORK)))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            self._wakeup.clear()

    async def _sleep(self, seconds: float) -> None:
        assert self._wakeup is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds
        if self._running:
            logger.info("stopping: waiting up to %.0fs for %d running task(s)", self.settings.shutdown_grace_seconds,
                        len(self._running), extra={"event": "worker_draining", "worker_id": self.worker_id})
        while self._running and not self._hurry and time.monotonic() < deadline:
            await self._shutdown_step(self._flush(), self._maintain(time.monotonic()))
            await self._sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        await self._shutdown_step(self._release_running())
        await self._shutdown_step(self._flush())
        await self._shutdown_step(self.storage.drop_sessions(self.namespace, self.worker_id))

    async def _shutdown_step(self, *steps: Awaitable[Any]) -> None:
        for step in steps:
            try:
                await step
            except Exception as exc:
                logger.error("shutdown step failed: %s", exc, exc_info=not isinstance(exc, StorageError),
                             extra={"event": "worker_shutdown_error", "worker_id": self.worker_id})

    async def _release_running(self) -> None:
        """Stop what still runs after the grace period and hand it back to other workers.

        Attempts are interrupted first and given a moment to stop, so that a released task is
        not still running here when another worker picks it up. What finished meanwhile keeps
        its outcome; what was only stopped by the interruption is released, the attempt not counted.
        """
        if not self._running:
            return
        items = list(self._running.values())
        for item in items:
            item.execution.interrupt()
        _, stuck = await asyncio.wait([r.task for r in items], timeout=2.0)
        self.abandoned = len(stuck)
        # Whatever an interrupted attempt ended with (other than success) came from our interruption.
        ours = {r.claimed.lease.token for r in items if not r.cancel_requested}
        give_back = [o.lease for o in self._outbox if o.lease.token in ours and not isinstance(o, Succeeded)]
        returned = {lease.token for lease in give_back}
        self._outbox = [o for o in self._outbox if o.lease.token not in returned]
        give_back += [r.claimed.lease for r in items if r.task in stuck]
        released = await self.storage.release(give_back) if give_back else 0
        logger.warning("released %d unfinished task(s) at shutdown", released,
                       extra={"event": "tasks_released", "count": released, "worker_id": self.worker_id})
