"""The pure replay engine, driven with hand-written histories: no storage, no clock, no I/O."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from treadle.workflow import commands as c
from treadle.workflow import history as h
from treadle.workflow.context import OrchestrationContext, OrchestrationFailure
from treadle.workflow.replay import replay

T0 = 1_700_000_000.0


def start(input: Any = None) -> list[h.HistoryEvent]:
    return [h.started("wf", input, instance_id="i-1", execution=1, now=T0)]


def run(events: list[h.HistoryEvent], fn: Any, now: float = T0 + 1) -> c.Decision:
    return replay(events, fn, now=now, instance_id="i-1", name="wf")


def advance(events: list[h.HistoryEvent], fn: Any, now: float = T0 + 1) -> c.Decision:
    """Replay, then append what the decision recorded (as the runtime does)."""
    decision = run(events, fn, now)
    events.extend(decision.new_events)
    return decision


def completed(seq: int, result: Any) -> h.HistoryEvent:
    return h.HistoryEvent(h.ACTIVITY_COMPLETED, {"seq": seq, "result": result})


def failed(seq: int, message: str) -> h.HistoryEvent:
    return h.HistoryEvent(h.ACTIVITY_FAILED, {"seq": seq, "error": {"message": message, "error_type": "ValueError"}})


def raised(name: str, data: Any) -> h.HistoryEvent:
    return h.HistoryEvent(h.EVENT_RAISED, {"name": name, "data": data})


def greet(ctx: OrchestrationContext, input: Any) -> Any:
    result = yield ctx.schedule_activity("greet", input)
    return result


def test_first_decision_schedules_the_first_activity() -> None:
    decision = run(start({"name": "World"}), greet)
    assert decision.status == "running"
    assert decision.commands == [c.ScheduleActivity(seq=0, name="greet", input={"name": "World"})]
    assert [e.kind for e in decision.new_events] == [h.ORCHESTRATOR_STARTED, h.ACTIVITY_SCHEDULED]
    assert decision.new_events[0].data == {"now": T0 + 1}


def test_completion_resumes_the_generator_and_finishes() -> None:
    events = start({"name": "World"})
    advance(events, greet)
    events.append(completed(0, "Hello, World!"))
    decision = run(events, greet, now=T0 + 2)
    assert (decision.status, decision.output, decision.commands) == ("completed", "Hello, World!", [])
    assert decision.new_events[-1] == h.HistoryEvent(h.EXECUTION_COMPLETED, {"result": "Hello, World!"})


def test_nothing_new_happens_while_waiting() -> None:
    events = start()
    advance(events, greet)
    decision = run(events, greet)
    assert decision.status == "running" and decision.commands == []


def test_a_failed_activity_raises_into_the_orchestration() -> None:
    def compensate(ctx: OrchestrationContext, input: Any) -> Any:
        try:
            yield ctx.schedule_activity("charge", 10)
        except OrchestrationFailure as exc:
            yield ctx.schedule_activity("refund", exc.error["message"])
            return "refunded"
        return "charged"

    events = start()
    advance(events, compensate)
    events.append(failed(0, "card declined"))
    decision = advance(events, compensate)
    assert decision.commands == [c.ScheduleActivity(seq=1, name="refund", input="card declined")]
    events.append(completed(1, None))
    assert run(events, compensate).output == "refunded"


def test_an_uncaught_failure_fails_the_orchestration_with_the_activity_error() -> None:
    events = start()
    advance(events, greet)
    events.append(failed(0, "boom"))
    decision = run(events, greet)
    assert decision.status == "failed" and decision.error is not None
    assert (decision.error["error_type"], decision.error["message"]) == ("ValueError", "boom")


def test_fan_out_and_in_keeps_the_order_of_the_futures() -> None:
    def fan(ctx: OrchestrationContext, n: int) -> Any:
        results = yield ctx.all([ctx.schedule_activity("square", i) for i in range(n)])
        return results

    events = start(5)
    decision = advance(events, fan)
    assert [cmd.seq for cmd in decision.commands] == [0, 1, 2, 3, 4]
    for seq in (3, 0, 4, 1):                       # completions arrive out of order
        events.append(completed(seq, seq * seq))
        assert run(events, fan).status == "running"
    events.append(completed(2, 4))
    assert run(events, fan).output == [0, 1, 4, 9, 16]


def test_all_fails_with_the_first_failure_in_history_order() -> None:
    def fan(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.all([ctx.schedule_activity("a"), ctx.schedule_activity("b")])

    events = start()
    advance(events, fan)
    events.extend([failed(1, "b broke"), failed(0, "a broke")])
    decision = run(events, fan)
    assert decision.status == "failed" and decision.error is not None and decision.error["message"] == "b broke"


def test_race_is_won_by_the_first_completion_and_the_loser_is_cancelled() -> None:
    def racing(ctx: OrchestrationContext, _: Any) -> Any:
        winner = yield ctx.race(ctx.schedule_activity("slow"), ctx.schedule_timer(1000))
        return winner

    events = start()
    decision = advance(events, racing)
    assert decision.commands[1] == c.CreateTimer(seq=1, fire_at=T0 + 1 + 1.0)
    events.append(h.HistoryEvent(h.TIMER_FIRED, {"seq": 1}))
    decision = run(events, racing)
    assert decision.output == {"index": 1, "value": None}     # RaceResult(1, None), stored as JSON
    assert decision.cancels == [c.CancelActivity(seq=0)]
    events.append(completed(0, "late"))            # a late loser changes nothing on replay
    assert run(events, racing).output == {"index": 1, "value": None}


def test_a_timer_survives_as_history_and_resumes_after_it_fired() -> None:
    def nap(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_timer(5000)
        return ctx.now()

    events = start()
    assert advance(events, nap, now=T0 + 1).commands == [c.CreateTimer(seq=0, fire_at=T0 + 6)]
    events.append(h.HistoryEvent(h.TIMER_FIRED, {"seq": 0}))
    assert run(events, nap, now=T0 + 7).output == T0 + 7


def test_an_event_raised_before_the_wait_is_kept_and_delivered_in_order() -> None:
    def approvals(ctx: OrchestrationContext, _: Any) -> Any:
        first = yield ctx.wait_for_event("approval")
        second = yield ctx.wait_for_event("approval")
        return [first, second]

    events = start()
    events.extend([raised("approval", "alice"), raised("other", 0), raised("approval", "bob")])
    assert run(events, approvals).output == ["alice", "bob"]


def test_dequeue_reads_a_fifo_queue() -> None:
    def inbox(ctx: OrchestrationContext, _: Any) -> Any:
        got = []
        for _ in range(3):
            got.append((yield ctx.dequeue_event("inbox")))
        return got

    events = start()
    advance(events, inbox)
    events.extend(h.HistoryEvent(h.EVENT_QUEUED, {"name": "inbox", "data": m}) for m in ("a", "b"))
    assert run(events, inbox).status == "running"
    events.append(h.HistoryEvent(h.EVENT_QUEUED, {"name": "inbox", "data": "c"}))
    assert run(events, inbox).output == ["a", "b", "c"]


def test_sub_orchestration_gets_a_derived_instance_id_by_default() -> None:
    def parent(ctx: OrchestrationContext, _: Any) -> Any:
        a = yield ctx.schedule_sub_orchestration("child", {"x": 1})
        b = yield ctx.schedule_sub_orchestration("child", {"x": 2}, instance_id="fixed")
        return [a, b]

    events = start()
    first = advance(events, parent)
    assert first.commands == [c.ScheduleSubOrchestration(seq=0, name="child", instance_id="i-1:0", input={"x": 1})]
    events.append(h.HistoryEvent(h.SUB_ORCHESTRATION_COMPLETED, {"seq": 0, "result": "one"}))
    second = advance(events, parent)
    assert second.commands[0].instance_id == "fixed"  # type: ignore[union-attr]
    events.append(h.HistoryEvent(h.SUB_ORCHESTRATION_COMPLETED, {"seq": 1, "result": "two"}))
    assert run(events, parent).output == ["one", "two"]


def test_continue_as_new_ends_the_execution_with_the_next_input() -> None:
    def counter(ctx: OrchestrationContext, n: int) -> Any:
        yield ctx.schedule_activity("tick", n)
        return (yield ctx.continue_as_new(n + 1))

    events = start(7)
    advance(events, counter)
    events.append(completed(0, None))
    decision = run(events, counter)
    assert (decision.status, decision.continue_input) == ("continued_as_new", 8)
    assert decision.new_events[-1].kind == h.EXECUTION_CONTINUED_AS_NEW


def test_custom_status_is_the_last_value_set() -> None:
    def progress(ctx: OrchestrationContext, _: Any) -> Any:
        ctx.set_custom_status("validating")
        yield ctx.schedule_activity("validate")
        ctx.set_custom_status({"step": 2})
        yield ctx.schedule_activity("process")
        ctx.reset_custom_status()
        return "ok"

    events = start()
    first = advance(events, progress)
    assert (first.custom_status, first.custom_status_set) == ("validating", True)
    events.append(completed(0, None))
    assert advance(events, progress).custom_status == {"step": 2}
    events.append(completed(1, None))
    final = run(events, progress)
    assert (final.custom_status, final.custom_status_set, final.output) == (None, True, "ok")


def test_time_and_ids_are_the_same_on_every_replay() -> None:
    seen: list[tuple[float, str, bool]] = []

    def clocked(ctx: OrchestrationContext, _: Any) -> Any:
        seen.append((ctx.now(), ctx.new_uuid(), ctx.is_replaying))
        yield ctx.schedule_activity("a")
        seen.append((ctx.now(), ctx.new_uuid(), ctx.is_replaying))
        return None

    events = start()
    advance(events, clocked, now=T0 + 1)
    events.append(completed(0, None))
    run(events, clocked, now=T0 + 9)
    first_run, replayed, resumed = seen
    assert first_run[0] == replayed[0] == T0 + 1 and first_run[1] == replayed[1]
    assert (first_run[2], replayed[2]) == (False, True)
    assert resumed[0] == T0 + 9 and resumed[2] is False and resumed[1] != first_run[1]


def test_logging_is_silent_while_replaying(caplog: pytest.LogCaptureFixture) -> None:
    def chatty(ctx: OrchestrationContext, _: Any) -> Any:
        ctx.log("before %s", "a")
        yield ctx.schedule_activity("a")
        ctx.log("after a")
        return None

    events = start()
    with caplog.at_level(logging.INFO, logger="treadle.orchestration"):
        advance(events, chatty)
        events.append(completed(0, None))
        run(events, chatty)
    assert [r.getMessage() for r in caplog.records] == ["before a", "after a"]


@pytest.mark.parametrize(("changed", "step", "expected"), [
    ("rename", 0, "ActivityScheduled {'name': 'greet'"),
    ("input", 0, "'input': {'name': 'World'}"),
    ("insert", 0, "history has ActivityScheduled {'name': 'greet'"),
    ("remove", 1, "history has ActivityScheduled {'name': 'farewell'"),
    ("timer", 1, "TimerCreated"),
])
def test_code_that_no_longer_matches_history_fails_with_nondeterminism(changed: str, step: int,
                                                                       expected: str) -> None:
    def original(ctx: OrchestrationContext, input: Any) -> Any:
        yield ctx.schedule_activity("greet", input)
        yield ctx.schedule_activity("farewell", input)
        return "done"

    def new_version(ctx: OrchestrationContext, input: Any) -> Any:
        if changed == "rename":
            yield ctx.schedule_activity("welcome", input)
        elif changed == "input":
            yield ctx.schedule_activity("greet", {"name": "Mars"})
        elif changed == "insert":
            yield ctx.schedule_activity("audit", input)
            yield ctx.schedule_activity("greet", input)
        elif changed == "remove":
            yield ctx.schedule_activity("greet", input)
            return "done"
        elif changed == "timer":
            yield ctx.schedule_activity("greet", input)
            yield ctx.schedule_timer(10)
        return "done"

    events = start({"name": "World"})
    advance(events, original)
    events.append(completed(0, None))
    advance(events, original)
    events.append(completed(1, None))
    decision = run(events, new_version)
    assert decision.status == "failed" and decision.error is not None
    assert decision.error["error_type"] == "NondeterminismError"
    assert decision.error["error_code"] == "NONDETERMINISM" and decision.error["details"] == {"step": step}
    assert f"diverged from its history at step {step}" in decision.error["message"]
    assert expected in decision.error["message"]
    assert decision.commands == []


def test_code_added_after_the_recorded_steps_is_compatible() -> None:
    def v1(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("a")
        yield ctx.wait_for_event("go")
        return "v1"

    def v2(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("a")
        yield ctx.wait_for_event("go")
        yield ctx.schedule_activity("b")
        return "v2"

    events = start()
    advance(events, v1)
    events.append(completed(0, None))
    advance(events, v1)
    events.append(raised("go", None))
    decision = run(events, v2)
    assert decision.status == "running" and decision.commands == [c.ScheduleActivity(seq=1, name="b", input=None)]


def test_patched_keeps_old_histories_on_the_old_path_and_new_ones_on_the_new() -> None:
    def v1(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("charge")
        yield ctx.schedule_activity("ship")
        return "v1"

    def v2(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("charge")
        if ctx.patched("fraud-check"):
            yield ctx.schedule_activity("fraud_check")
        yield ctx.schedule_activity("ship")
        return "v2"

    # an instance that already scheduled "ship" under v1 replays fine under v2 (old path)
    old = start()
    advance(old, v1)
    old.append(completed(0, None))
    advance(old, v1)
    old.append(completed(1, None))
    assert run(old, v2).output == "v2"
    # a new instance takes the new path and records the marker
    new = start()
    advance(new, v2)
    new.append(completed(0, None))
    decision = advance(new, v2)
    assert [e.kind for e in decision.new_events] == [h.ORCHESTRATOR_STARTED, h.PATCH_MARKER, h.ACTIVITY_SCHEDULED]
    assert decision.commands == [c.ScheduleActivity(seq=2, name="fraud_check", input=None)]
    new.append(completed(2, None))
    decision = advance(new, v2)
    assert decision.commands == [c.ScheduleActivity(seq=3, name="ship", input=None)]


def test_a_plain_function_orchestration_completes_at_once() -> None:
    assert run(start(2), lambda ctx, n: n * 21).output == 42


def test_an_exception_in_orchestration_code_fails_it_with_a_traceback() -> None:
    def broken(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("a")
        raise KeyError("missing")

    events = start()
    advance(events, broken)
    events.append(completed(0, None))
    decision = run(events, broken)
    assert decision.status == "failed" and decision.error is not None
    assert decision.error["error_type"] == "KeyError" and "Traceback" in decision.error["traceback"]


def test_yielding_something_that_is_not_a_future_is_a_clear_failure() -> None:
    def wrong(ctx: OrchestrationContext, _: Any) -> Any:
        yield 42

    decision = run(start(), wrong)
    assert decision.status == "failed" and decision.error is not None
    assert "must yield what ctx returns, not 42" in decision.error["message"]


def run_stored(history: list[h.HistoryEvent], inbox: list[h.HistoryEvent], fn: Any, now: float) -> c.Decision:
    """Replay as the runtime does: stored history, then the inputs waiting in the inbox."""
    return replay(history + inbox, fn, now=now, instance_id="i-1", name="wf", history_length=len(history))


def store(history: list[h.HistoryEvent], inbox: list[h.HistoryEvent], decision: c.Decision) -> None:
    """Append a decision as the store does: its start, the inputs it consumed, then its own events."""
    history.extend([decision.new_events[0], *inbox, *decision.new_events[1:]])
    inbox.clear()


def test_inputs_handled_by_a_decision_that_scheduled_nothing_replay_at_that_decisions_time() -> None:
    seen: list[tuple[float, bool]] = []

    def waits(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.wait_for_event("a")
        seen.append((ctx.now(), ctx.is_replaying))
        yield ctx.wait_for_event("b")
        return [t for t, _ in seen]

    history, inbox = start(), []
    store(history, inbox, run_stored(history, inbox, waits, T0 + 1))
    inbox.append(raised("a", 1))
    store(history, inbox, run_stored(history, inbox, waits, T0 + 50))   # handles "a", schedules nothing
    inbox.append(raised("b", 2))
    seen.clear()
    decision = run_stored(history, inbox, waits, T0 + 150)
    assert seen == [(T0 + 50, True)]
    assert decision.output == [T0 + 50]


def test_a_wait_that_lost_a_race_does_not_swallow_the_next_event() -> None:
    def patient(ctx: OrchestrationContext, _: Any) -> Any:
        first = yield ctx.race(ctx.wait_for_event("x"), ctx.schedule_timer(10))
        later = yield ctx.wait_for_event("x")
        return [first.index, later]

    events = start()
    advance(events, patient)
    events.append(h.HistoryEvent(h.TIMER_FIRED, {"seq": 0}))
    advance(events, patient)
    events.append(raised("x", "hello"))
    assert run(events, patient).output == [1, "hello"]


def test_a_message_taken_by_a_losing_wait_goes_back_first_in_line() -> None:
    def picky(ctx: OrchestrationContext, _: Any) -> Any:
        winner = yield ctx.race(ctx.wait_for_event("fast"), ctx.wait_for_event("slow"))
        again = yield ctx.wait_for_event("slow")
        return [winner.index, winner.value, again]

    events = start()
    events.extend([raised("fast", 1), raised("slow", 2)])
    assert run(events, picky).output == [0, 1, 2]


def test_tuples_and_lists_are_the_same_input_on_replay() -> None:
    def tupled(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_activity("a", {"xs": (1, 2)})
        yield ctx.schedule_activity("b")
        return "ok"

    events = start()
    advance(events, tupled)
    events.append(completed(0, None))
    assert advance(events, tupled).status == "running"
    events.append(completed(1, None))
    assert run(events, tupled).output == "ok"


def test_output_or_status_that_is_not_json_fails_the_instance_clearly() -> None:
    def bad_output(ctx: OrchestrationContext, _: Any) -> Any:
        yield ctx.schedule_timer(1)
        return object()

    def bad_status(ctx: OrchestrationContext, _: Any) -> Any:
        ctx.set_custom_status({1, 2} | {object()})
        yield ctx.schedule_timer(1)

    events = start()
    advance(events, bad_output)
    events.append(h.HistoryEvent(h.TIMER_FIRED, {"seq": 0}))
    decision = run(events, bad_output)
    assert decision.status == "failed" and decision.error is not None
    assert decision.error["error_type"] == "SerializationError"
    assert "orchestration's output" in decision.error["message"]
    failed_status = run(start(), bad_status)
    assert failed_status.status == "failed" and failed_status.error is not None
    assert "the custom status cannot be stored as JSON" in failed_status.error["message"]
