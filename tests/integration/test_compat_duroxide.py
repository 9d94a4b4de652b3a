"""`treadle.compat.duroxide`: duroxide-python programs on a real treadle runtime, on SQLite and PostgreSQL.

Each test registers duroxide-style activities and generator orchestrations with the facade's
`Runtime`, drives them through the facade's `Client`, and checks what a duroxide user would see.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from treadle import ConfigurationError, InstanceNotFoundError, InvalidStateError, WaitTimeoutError
from treadle.compat.duroxide import (
    Client,
    PostgresProvider,
    PruneOptions,
    PyPruneOptions,
    Runtime,
    SqliteProvider,
)

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgres"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteProvider | PostgresProvider:
    """A SQLite file in the test's folder, or a PostgreSQL schema of the test's own."""
    if request.param == "postgres":
        database = str(request.getfixturevalue("pg_url")).split("?", 1)[0]
        return PostgresProvider.connect_with_schema(database, str(request.getfixturevalue("pg_schema")))
    return SqliteProvider.open(str(tmp_path / "duroxide.db"))


@pytest.fixture
def runtime(provider: SqliteProvider | PostgresProvider) -> Iterator[Runtime]:
    """A runtime on the provider; the test registers what it needs and starts it."""
    rt = Runtime(provider)
    yield rt
    rt.shutdown()


@pytest.fixture
def client(provider: SqliteProvider | PostgresProvider) -> Iterator[Client]:
    """A client on the provider."""
    with Client(provider) as c:
        yield c


def register_basics(runtime: Runtime) -> None:
    """The activities and orchestrations several tests share."""

    @runtime.register_activity("greet")
    def greet(ctx: Any, input: Any) -> str:
        return f"Hello, {input['name']}!"

    @runtime.register_activity("Echo")
    def echo(ctx: Any, input: Any) -> Any:
        return input

    @runtime.register_activity("Boom")
    def boom(ctx: Any, input: Any) -> Any:
        raise ValueError(f"boom: {input}")

    @runtime.register_orchestration("GreetWorkflow")
    def greet_workflow(ctx: Any, input: Any) -> Any:
        result = yield ctx.schedule_activity("greet", input)
        return result


# ---------------------------------------------------------------- the README's quick start


def test_quick_start_greets_the_world(runtime: Runtime, client: Client) -> None:
    # Given the README's greet activity and GreetWorkflow
    register_basics(runtime)
    runtime.start()
    # When the README's client starts and waits for greet-1 (timeout in milliseconds)
    client.start_orchestration("greet-1", "GreetWorkflow", {"name": "World"})
    status = client.wait_for_orchestration("greet-1", 10000)
    # Then the output is the decoded JSON string, and the status reads as duroxide's
    assert status.status == "Completed"
    assert status.output == "Hello, World!"
    assert status.error is None
    assert client.get_status("greet-1").output == "Hello, World!"


def test_in_memory_provider_runs_orchestrations_and_leaves_no_file() -> None:
    # Given the README's SqliteProvider.in_memory()
    provider = SqliteProvider.in_memory()
    folder = Path(provider.url.removeprefix("sqlite:///")).parent
    runtime = Runtime(provider)
    register_basics(runtime)
    runtime.start()
    try:
        with Client(provider) as client:
            client.start_orchestration("mem-1", "GreetWorkflow", {"name": "memory"})
            assert client.wait_for_orchestration("mem-1", 10_000).output == "Hello, memory!"
    finally:
        runtime.shutdown()
    assert folder.is_dir()
    # When nothing refers to the provider any more
    del runtime, client, provider
    gc.collect()
    # Then its temporary database is gone
    assert not folder.exists()


# ---------------------------------------------------------------- orchestration shapes


def test_all_gives_ok_and_err_entries_and_race_gives_index_and_value(runtime: Runtime, client: Client) -> None:
    register_basics(runtime)

    @runtime.register_orchestration("Shapes")
    def shapes(ctx: Any, input: Any) -> Any:
        joined = yield ctx.all([
            ctx.schedule_activity("Echo", {"id": 1}),
            ctx.schedule_activity("Boom", "b"),
            ctx.schedule_timer(10),
        ])
        winner = yield ctx.race(ctx.schedule_activity("Echo", "fast"), ctx.schedule_timer(60_000))
        return {"joined": joined, "winner": winner, "index": winner["index"]}

    runtime.start()
    client.start_orchestration("shapes-1", "Shapes", None)
    status = client.wait_for_orchestration("shapes-1", 20_000)

    assert status.status == "Completed", status.error
    joined = status.output["joined"]
    assert joined[0] == {"ok": {"id": 1}}
    assert list(joined[1]) == ["err"]
    assert "boom: b" in joined[1]["err"]
    assert joined[2] == {"ok": None}
    assert status.output["winner"] == {"index": 0, "value": "fast"}
    assert status.output["index"] == 0


def test_events_sub_orchestrations_and_deterministic_time_and_ids(runtime: Runtime, client: Client) -> None:
    register_basics(runtime)

    @runtime.register_orchestration("Child")
    def child(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity("Echo", f"child saw {input}"))

    @runtime.register_orchestration("Parent")
    def parent(ctx: Any, input: Any) -> Any:
        now = yield ctx.utc_now()
        guid = yield ctx.new_guid()
        approval = yield ctx.wait_for_event("approval")
        first = yield ctx.schedule_sub_orchestration("Child", approval["by"])
        second = yield ctx.schedule_sub_orchestration_with_id("Child", f"{ctx.instance_id}-named", 2)
        return {"now": now, "guid": guid, "children": [first, second], "me": [ctx.instance_id, ctx.execution_id,
                                                                             ctx.orchestration_name]}

    runtime.start()
    client.start_orchestration("parent-1", "Parent", None)
    client.raise_event("parent-1", "approval", {"by": "ada"})
    status = client.wait_for_orchestration("parent-1", 20_000)

    assert status.status == "Completed", status.error
    assert status.output["children"] == ["child saw ada", "child saw 2"]
    assert status.output["me"] == ["parent-1", 1, "Parent"]
    assert isinstance(status.output["now"], int) and status.output["now"] > 1_600_000_000_000
    assert len(status.output["guid"]) == 36
    assert client.get_status("parent-1-named").output == "child saw 2"
    tree = client.get_instance_tree("parent-1")
    assert tree.root_id == "parent-1"
    assert tree.size == 3
    assert "parent-1-named" in tree.all_ids


def test_an_activity_failure_fails_the_orchestration_once_and_can_be_caught(runtime: Runtime,
                                                                            client: Client) -> None:
    calls: list[int] = []

    @runtime.register_activity("Fragile")
    def fragile(ctx: Any, input: Any) -> Any:
        calls.append(ctx.attempt)
        raise ValueError(f"fragile {input}")

    @runtime.register_orchestration("Careless")
    def careless(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity("Fragile", "x"))

    @runtime.register_orchestration("Careful")
    def careful(ctx: Any, input: Any) -> Any:
        try:
            return (yield ctx.schedule_activity("Fragile", "y"))
        except Exception as exc:
            ctx.trace_warn(f"fragile failed: {exc}")
            return f"recovered from {exc}"

    runtime.start()
    client.start_orchestration("careless-1", "Careless", None)
    client.start_orchestration("careful-1", "Careful", None)
    failed = client.wait_for_orchestration("careless-1", 20_000)
    recovered = client.wait_for_orchestration("careful-1", 20_000)

    assert failed.status == "Failed"
    assert failed.output is None
    assert "ValueError: fragile x" in (failed.error or "")
    assert recovered.status == "Completed"
    assert "ValueError: fragile y" in recovered.output
    assert calls == [1, 1]          # as in duroxide, an activity is not retried unless asked


def test_schedule_activity_with_retry_takes_duroxides_retry_dict(runtime: Runtime, client: Client) -> None:
    attempts: list[int] = []

    @runtime.register_activity("Flaky")
    def flaky(ctx: Any, input: Any) -> Any:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError(f"attempt {ctx.attempt} failed")
        return "success"

    @runtime.register_orchestration("RetryTest")
    def retry_test(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity_with_retry("Flaky", None, {"max_attempts": 5, "backoff": "none"}))

    @runtime.register_orchestration("BadRetry")
    def bad_retry(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity_with_retry("Flaky", None, {"max_attempts": 2, "timeout_ms": 500}))

    runtime.start()
    client.start_orchestration("retry-1", "RetryTest", None)
    client.start_orchestration("bad-retry-1", "BadRetry", None)

    assert client.wait_for_orchestration("retry-1", 20_000).output == "success"
    assert attempts == [1, 2, 3]
    bad = client.wait_for_orchestration("bad-retry-1", 20_000)
    assert bad.status == "Failed"
    assert bad.error == ("ConfigurationError: retry option(s) timeout_ms are not supported: treadle times out "
                         "an activity by its own timeout")


def test_custom_status_and_event_queue_chat_bot(runtime: Runtime, client: Client) -> None:
    # Given the README's ChatBot (an event queue, custom status and continue-as-new)
    @runtime.register_activity("Generate")
    def generate(ctx: Any, text: Any) -> str:
        return f"Echo: {text}"

    @runtime.register_orchestration("ChatBot")
    def chat_bot(ctx: Any, input: Any) -> Any:
        msg_json = yield ctx.dequeue_event("inbox")
        msg = json.loads(msg_json)
        response = yield ctx.schedule_activity("Generate", msg["text"])
        ctx.set_custom_status(json.dumps({"state": "replied", "response": response, "seq": msg["seq"]}))
        if "bye" in msg["text"].lower():
            return f"Done after {msg['seq']} msgs"
        return (yield ctx.continue_as_new(""))

    runtime.start()
    client.start_orchestration("chat-1", "ChatBot", "")
    # When the README's client sends a message and polls for the status change
    client.enqueue_event("chat-1", "inbox", json.dumps({"seq": 1, "text": "Hello!"}))
    status = client.wait_for_status_change("chat-1", 0, 50, 10000)
    # Then the reply is there, as a JSON string
    assert status is not None
    assert json.loads(status.custom_status or "") == {"state": "replied", "response": "Echo: Hello!", "seq": 1}
    assert status.custom_status_version >= 1
    # And a second message, read by the next execution, ends the conversation
    client.enqueue_event("chat-1", "inbox", json.dumps({"seq": 2, "text": "Bye!"}))
    final = client.wait_for_orchestration("chat-1", 10_000)
    assert final.output == "Done after 2 msgs"
    assert json.loads(final.custom_status or "")["seq"] == 2
    assert client.list_executions("chat-1") == [1, 2]


def test_progress_workflow_reports_and_clears_its_status(runtime: Runtime, client: Client) -> None:
    seen = threading.Event()

    @runtime.register_activity("Validate")
    def validate(ctx: Any, input: Any) -> bool:
        return seen.wait(30)

    @runtime.register_activity("Process")
    def process(ctx: Any, input: Any) -> Any:
        return {"processed": input}

    @runtime.register_orchestration("ProgressWorkflow")
    def progress_workflow(ctx: Any, input: Any) -> Any:
        ctx.set_custom_status("step 1: validating")
        yield ctx.schedule_activity("Validate", input)
        ctx.set_custom_status("step 2: processing")
        result = yield ctx.schedule_activity("Process", input)
        ctx.reset_custom_status()
        return result

    runtime.start()
    try:
        client.start_orchestration("progress-1", "ProgressWorkflow", 7)
        first = client.wait_for_status_change("progress-1", 0, 50, 10000)
        assert first is not None
        assert (first.status, first.custom_status, first.custom_status_version) == ("Running", "step 1: validating", 1)
    finally:
        seen.set()
    final = client.wait_for_orchestration("progress-1", 10_000)
    assert (final.status, final.output, final.custom_status) == ("Completed", {"processed": 7}, None)
    assert final.custom_status_version > first.custom_status_version


# ---------------------------------------------------------------- activity context


def test_activity_context_traces_and_starts_orchestrations_with_its_client(
        runtime: Runtime, client: Client, caplog: pytest.LogCaptureFixture) -> None:
    register_basics(runtime)

    @runtime.register_activity("SendEmail")
    def send_email(ctx: Any, input: Any) -> Any:
        ctx.trace_info(f"Sending email to {input['to']}")
        ctx.get_client().start_orchestration(f"greet-{input['to']}", "GreetWorkflow", {"name": input["to"]})
        return {"sent": True}

    @runtime.register_orchestration("Welcome")
    def welcome(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity("SendEmail", {"to": input}))

    caplog.set_level(logging.INFO, logger="treadle.compat.duroxide")
    runtime.start()
    client.start_orchestration("welcome-1", "Welcome", "ada")

    assert client.wait_for_orchestration("welcome-1", 10_000).output == {"sent": True}
    assert client.wait_for_orchestration("greet-ada", 10_000).output == "Hello, ada!"
    traces = [r for r in caplog.records if r.name == "treadle.compat.duroxide.runtime"]
    assert [(r.levelname, r.getMessage(), getattr(r, "activity", None)) for r in traces] == [
        ("INFO", "Sending email to ada", "SendEmail")]


# ---------------------------------------------------------------- cancel, admin, metrics


def test_cancel_instance_ends_it_failed_with_the_reason(runtime: Runtime, client: Client) -> None:
    @runtime.register_orchestration("LongRunning")
    def long_running(ctx: Any, input: Any) -> Any:
        yield ctx.wait_for_event("never_arrives")
        return "should not reach"

    runtime.start()
    client.start_orchestration("long-1", "LongRunning", None)
    client.cancel_instance("long-1", "user_request")

    status = client.wait_for_orchestration("long-1", 10_000)
    assert (status.status, status.error) == ("Failed", "Terminated: user_request")
    assert client.list_instances_by_status("Failed") == ["long-1"]


def test_admin_apis_inspect_prune_and_delete(runtime: Runtime, client: Client) -> None:
    register_basics(runtime)

    @runtime.register_orchestration("Counter")
    def counter(ctx: Any, n: Any) -> Any:
        yield ctx.schedule_activity("Echo", n)
        if n < 3:
            return (yield ctx.continue_as_new(n + 1))
        return n

    @runtime.register_orchestration("Waiter")
    def waiter(ctx: Any, input: Any) -> Any:
        return (yield ctx.wait_for_event("go"))

    @runtime.register_orchestration("Stuck")
    def stuck(ctx: Any, input: Any) -> Any:
        return (yield ctx.all([ctx.schedule_activity("NoOneRunsThis", None), ctx.schedule_timer(600_000)]))

    runtime.start()
    client.start_orchestration("instance-1", "Counter", 0)
    client.start_orchestration("waiter-1", "Waiter", None)
    client.start_orchestration("stuck-1", "Stuck", None)
    client.start_orchestration("unknown-1", "NoRuntimeKnowsThis", None)
    assert client.wait_for_orchestration("instance-1", 20_000).output == 3

    metrics = client.get_system_metrics()
    assert (metrics.total_instances, metrics.running_instances, metrics.completed_instances,
            metrics.failed_instances) == (4, 3, 1, 0)
    # waiting: unknown-1's first decision, stuck-1's activity and timer (once stuck-1 has decided)
    deadline = time.monotonic() + 10
    while (depths := client.get_queue_depths()).worker_queue == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (depths.orchestrator_queue, depths.worker_queue, depths.timer_queue) == (1, 1, 1)
    assert sorted(client.list_all_instances()) == ["instance-1", "stuck-1", "unknown-1", "waiter-1"]
    assert sorted(client.list_instances_by_status("Running")) == ["stuck-1", "unknown-1", "waiter-1"]
    assert client.list_instances_by_status("Completed") == ["instance-1"]

    info = client.get_instance_info("instance-1")
    assert (info.instance_id, info.orchestration_name, info.status, info.current_execution_id, info.output) == (
        "instance-1", "Counter", "Completed", 4, "3")
    assert info.created_at <= info.updated_at
    assert client.get_instance_tree("instance-1").all_ids == ["instance-1"]

    executions = client.list_executions("instance-1")
    assert executions == [1, 2, 3, 4]
    events = client.read_execution_history("instance-1", executions[0])
    kinds = [e.kind for e in events]
    assert kinds[0] == "OrchestrationStarted"
    assert kinds[-1] == "OrchestrationContinuedAsNew"
    assert "ActivityCompleted" in kinds
    assert json.loads(events[0].data)["input"] == 0
    completed = next(e for e in events if e.kind == "ActivityCompleted")
    assert json.loads(completed.data)["result"] == 0
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))

    pruned = client.prune_executions("instance-1", PyPruneOptions(keep_last=2))
    assert (pruned.instances_processed, pruned.executions_deleted) == (1, 2)
    assert pruned.events_deleted > 0
    assert client.list_executions("instance-1") == [3, 4]

    with pytest.raises(InvalidStateError, match="waiter-1 is still running: cancel it first or pass force=True"):
        client.delete_instance("waiter-1")
    assert client.delete_instance("waiter-1", force=True).instances_deleted == 1
    assert client.delete_instance("instance-1").instances_deleted == 1
    assert client.get_status("instance-1").status == "NotFound"
    assert sorted(client.list_all_instances()) == ["stuck-1", "unknown-1"]
    # README order: prune after delete; an instance that is gone has nothing to prune
    nothing = client.prune_executions("instance-1", PruneOptions(keep_last=5))
    assert (nothing.instances_processed, nothing.executions_deleted, nothing.events_deleted) == (0, 0, 0)


def test_metrics_snapshot_counts_what_the_runtime_did(runtime: Runtime, client: Client) -> None:
    register_basics(runtime)

    @runtime.register_orchestration("Failing")
    def failing(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity("Boom", input))

    runtime.start()
    client.start_orchestration("ok-1", "GreetWorkflow", {"name": "a"})
    client.start_orchestration("bad-1", "Failing", "x")
    client.wait_for_orchestration("ok-1", 10_000)
    client.wait_for_orchestration("bad-1", 10_000)

    # the runtime counts a decision just after committing it, so the client may see the end first
    def counted() -> tuple[int, int, int, int]:
        s = runtime.metrics_snapshot()
        return s.orch_completions, s.orch_failures, s.activity_success, s.activity_app_errors

    deadline = time.monotonic() + 10
    while counted() != (1, 1, 1, 1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counted() == (1, 1, 1, 1)
    assert runtime.metrics_snapshot().counters["decisions"] >= 2


# ---------------------------------------------------------------- wrong input


def test_an_unknown_orchestration_name_stays_running_and_the_wait_times_out(runtime: Runtime,
                                                                           client: Client) -> None:
    register_basics(runtime)
    runtime.start()
    client.start_orchestration("ghost-1", "NoSuchWorkflow", None)

    with pytest.raises(WaitTimeoutError, match=re.escape("orchestration ghost-1 is still running after 0.2s")):
        client.wait_for_orchestration("ghost-1", 200)
    assert client.get_status("ghost-1").status == "Running"


def test_waiting_on_an_unknown_instance_is_refused(client: Client) -> None:
    with pytest.raises(InstanceNotFoundError, match="no orchestration instance 'nobody'"):
        client.wait_for_orchestration("nobody", 1000)
    with pytest.raises(InstanceNotFoundError, match="'nobody'"):
        client.wait_for_status_change("nobody", 0, 50, 1000)
    with pytest.raises(InstanceNotFoundError, match="'nobody'"):
        client.get_instance_info("nobody")
    with pytest.raises(InstanceNotFoundError, match="'nobody'"):
        client.read_execution_history("nobody", 1)
    with pytest.raises(InstanceNotFoundError, match="'nobody'"):
        client.cancel_instance("nobody", "why")
    assert client.get_status("nobody").status == "NotFound"


def test_a_status_wait_that_runs_out_returns_none(runtime: Runtime, client: Client) -> None:
    @runtime.register_orchestration("Quiet")
    def quiet(ctx: Any, input: Any) -> Any:
        return (yield ctx.wait_for_event("never"))

    runtime.start()
    client.start_orchestration("quiet-1", "Quiet", None)
    assert client.wait_for_status_change("quiet-1", 0, 50, 200) is None


def test_malformed_arguments_get_clear_errors(runtime: Runtime, client: Client) -> None:
    with pytest.raises(ConfigurationError, match="timeout_ms is a number of milliseconds >= 0, got -1"):
        client.wait_for_orchestration("x", -1)
    with pytest.raises(ConfigurationError, match="poll_interval_ms is a number of milliseconds >= 0, got '50'"):
        client.wait_for_status_change("x", 0, "50", 100)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="invalid orchestration name 'has space'"):
        client.start_orchestration("x", "has space", None)
    with pytest.raises(ConfigurationError, match="unknown status 'Done': use Running, Completed or Failed"):
        client.list_instances_by_status("Done")
    with pytest.raises(ConfigurationError, match=re.escape("PruneOptions(completed_before=...) is not supported")):
        client.prune_executions("x", PruneOptions(completed_before=1))
    with pytest.raises(ConfigurationError, match="register an activity or an orchestration before starting"):
        runtime.start()
    with pytest.raises(ConfigurationError, match="activity 'Async' must be a plain function"):
        async def not_plain(ctx: Any, input: Any) -> None: ...
        runtime.register_activity("Async", not_plain)
    with pytest.raises(ConfigurationError, match="invalid activity name 'a b'"):
        runtime.register_activity("a b", lambda ctx, input: None)


def test_malformed_orchestration_steps_fail_the_instance_with_the_reason(runtime: Runtime, client: Client) -> None:
    register_basics(runtime)

    @runtime.register_orchestration("NestedRace")
    def nested_race(ctx: Any, input: Any) -> Any:
        return (yield ctx.race(ctx.all([ctx.schedule_timer(1)]), ctx.schedule_timer(1)))

    @runtime.register_orchestration("UnknownBackoff")
    def unknown_backoff(ctx: Any, input: Any) -> Any:
        return (yield ctx.schedule_activity_with_retry("Echo", 1, {"backoff": "sideways"}))

    runtime.start()
    client.start_orchestration("nested-1", "NestedRace", None)
    client.start_orchestration("backoff-1", "UnknownBackoff", None)

    nested = client.wait_for_orchestration("nested-1", 10_000)
    assert nested.status == "Failed"
    assert (nested.error or "").startswith("TypeError: race() takes what ctx schedules")
    assert "nesting all() and race() is not supported" in (nested.error or "")
    backoff = client.wait_for_orchestration("backoff-1", 10_000)
    assert backoff.error == "ConfigurationError: unknown backoff 'sideways': use exponential, linear, fixed, none"


def test_providers_refuse_what_they_cannot_open() -> None:
    with pytest.raises(ConfigurationError, match="PostgresProvider needs a postgresql:// URL, got 'mysql://db'"):
        PostgresProvider.connect("mysql://db")
    with pytest.raises(ConfigurationError, match=re.escape("SqliteProvider.open needs a file path, got ''")):
        SqliteProvider.open("")
    with pytest.raises(ConfigurationError, match="a schema name is a non-empty string"):
        PostgresProvider.connect_with_schema(PG, "")
    with pytest.raises(ConfigurationError, match="expected a provider"):
        Client("sqlite:///x.db")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="expected a provider"):
        Runtime(None)  # type: ignore[arg-type]


def test_postgres_schema_goes_into_the_url() -> None:
    assert PostgresProvider.connect(PG).url == PG
    assert PostgresProvider.connect_with_schema(PG, "duroxide_python").url == f"{PG}?schema=duroxide_python"
    assert PostgresProvider.connect_with_schema(f"{PG}?schema=old&connect_timeout_seconds=3", "new").url == (
        f"{PG}?connect_timeout_seconds=3&schema=new")
    assert SqliteProvider.open("data/d.db").url == "sqlite:///data/d.db"
    assert SqliteProvider.open("sqlite:////abs/d.db").url == "sqlite:////abs/d.db"
