"""The simple-workflow facade on a real PostgreSQL: pollers in threads, intents through `IntentClient`."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from treadle import Client, ConfigurationError, InvalidStateError, RetryPolicy, StorageError, TaskStatus
from treadle.compat.simpleworkflow import (
    RETRY_POLICY,
    IntentClient,
    IntentPoller,
    MetricsCollector,
    WorkflowExecutor,
    WorkflowRun,
)

from .conftest import wait_until


class Recorder(WorkflowExecutor):
    """Keeps every run it was given and answers with `respond(run)`."""

    def __init__(self, respond: Callable[[WorkflowRun], Any] | None = None) -> None:
        self.runs: list[WorkflowRun] = []
        self.respond = respond or (lambda run: {"echo": run.payload})

    def execute(self, run: WorkflowRun) -> Any:
        self.runs.append(run)
        return self.respond(run)


@pytest.fixture
def sw_url(pg_schema: str, pg_url: str) -> str:
    """The test's schema named the README's way, with `search_path`."""
    return pg_url.replace(f"?schema={pg_schema}", f"?search_path={pg_schema}")


@pytest.fixture
def intents(sw_url: str) -> Iterator[IntentClient]:
    with IntentClient(sw_url) as client:
        yield client


@pytest.fixture
def run_poller() -> Iterator[Callable[[IntentPoller], IntentPoller]]:
    """Start pollers in background threads (README section 4); each is stopped and joined at the end."""
    started: list[tuple[IntentPoller, threading.Thread]] = []

    def run(poller: IntentPoller) -> IntentPoller:
        thread = threading.Thread(target=poller.start, daemon=True)
        thread.start()
        started.append((poller, thread))
        return poller

    yield run
    for poller, thread in started:
        poller.stop()
        thread.join(30)
        assert not thread.is_alive(), "start() did not return after stop()"


def make_poller(url: str, prefixes: list[str], **kwargs: Any) -> IntentPoller:
    kwargs.setdefault("poll_interval", 0.2)
    return IntentPoller(db_url=url, type_prefixes=prefixes, worker_id="test-worker", **kwargs)


def test_an_intent_reaches_its_executor_as_a_workflow_run_and_its_result_is_stored(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given a poller for notify.% with an executor for notify.email.v1
    executor = Recorder(lambda run: {"sent": True, "to": run.payload["to"]})
    poller = make_poller(sw_url, ["notify.%"])
    poller.register_executor("notify.email.v1", executor)
    run_poller(poller)
    # When an intent is submitted
    run_id = intents.submit("notify.email.v1", {"to": "ada@example.com", "subject": "Hi", "body": "Hello"})
    result = intents.client.wait(run_id, timeout=30)
    # Then the executor saw the seed's fields and the result is stored
    assert result.status is TaskStatus.SUCCEEDED
    assert result.value == {"sent": True, "to": "ada@example.com"}
    [run] = executor.runs
    assert (run.id, run.type, run.attempt, run.max_attempts) == (run_id, "notify.email.v1", 0, 3)
    assert run.payload == {"to": "ada@example.com", "subject": "Hi", "body": "Hello"}
    assert intents.client.get(run_id).worker_id == "test-worker"


def test_one_executor_serves_several_types_and_each_type_reaches_only_its_own(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given one executor registered for two types and another for a third
    shared, other = Recorder(lambda run: run.type), Recorder(lambda run: "other")
    poller = make_poller(sw_url, ["notify.%", "billing.%"])
    poller.register_executor("notify.email.v1", shared)
    poller.register_executor("notify.sms.v1", shared)
    poller.register_executor("billing.invoice.v1", other)
    run_poller(poller)
    # When one intent of each type is submitted
    types = ["notify.email.v1", "notify.sms.v1", "billing.invoice.v1"]
    ids = [intents.submit(t, {"n": i}) for i, t in enumerate(types)]
    values = [intents.client.wait(i, timeout=30).value for i in ids]
    # Then each went to its executor
    assert values == ["notify.email.v1", "notify.sms.v1", "other"]
    assert sorted(r.type for r in shared.runs) == ["notify.email.v1", "notify.sms.v1"]


def test_intents_of_a_type_without_executor_stay_pending_for_a_poller_that_has_one(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given a poller for notify.% that can run only notify.email.v1
    poller = make_poller(sw_url, ["notify.%"])
    poller.register_executor("notify.email.v1", Recorder())
    run_poller(poller)
    # When an intent of another notify type is submitted before one it can run
    unknown = intents.submit("notify.push.v1", {"token": "x"})
    known = intents.submit("notify.email.v1", {"to": "a@b.c"})
    assert intents.client.wait(known, timeout=30).success
    # Then the unknown one was never claimed (it was due first), so another poller can take it
    info = intents.client.get(unknown)
    assert (info.status, info.attempts) == (TaskStatus.PENDING, 0)
    later = Recorder(lambda run: "pushed")
    second = make_poller(sw_url, ["notify.push.%"])
    second.register_executor("notify.push.v1", later)
    run_poller(second)
    assert intents.client.wait(unknown, timeout=30).value == "pushed"


def test_a_failing_intent_is_retried_after_about_one_then_four_minutes_and_then_fails(
        sw_url: str, pg_schema: str, intents: IntentClient, caplog: pytest.LogCaptureFixture,
        run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given an executor that always raises
    def fail(run: WorkflowRun) -> None:
        raise ConnectionError(f"smtp down (attempt {run.attempt})")

    executor = Recorder(fail)
    poller = make_poller(sw_url, ["notify.%"])
    poller.register_executor("notify.email.v1", executor)
    run_poller(poller)
    caplog.set_level(logging.ERROR, logger="treadle.compat.simpleworkflow.poller")
    run_id = intents.submit("notify.email.v1", {"to": "a@b.c"})
    delays = []
    for attempt in (1, 2):
        # When an attempt fails
        wait_until(lambda a=attempt: (lambda i: (i.status, i.attempts) == (TaskStatus.PENDING, a))(
            intents.client.get(run_id)), 30, f"failure of attempt {attempt}")
        info = intents.client.get(run_id)
        delays.append(info.run_after - info.updated_at)
        # (the stored retry time is moved to now, so the next attempt need not wait minutes)
        make_due(sw_url, pg_schema, run_id)
    result = intents.client.wait(run_id, timeout=30)
    # Then the retries were scheduled on the README's schedule, +0-10 %, and the third failure is final
    assert 60 - 1e-6 <= delays[0] <= 66 + 1e-6, delays
    assert 240 - 1e-6 <= delays[1] <= 264 + 1e-6, delays
    assert result.status is TaskStatus.FAILED
    assert [e.message for e in result.errors] == [f"smtp down (attempt {n})" for n in (0, 1, 2)]
    assert result.error is not None and result.error.error_type == "ConnectionError"
    assert [(r.attempt, r.max_attempts) for r in executor.runs] == [(0, 3), (1, 3), (2, 3)]
    # and every failure was logged with its traceback
    logged = [r for r in caplog.records if r.name == "treadle.compat.simpleworkflow.poller"]
    assert len(logged) == 3 and all(r.exc_info for r in logged)
    assert "attempt 3/3 failed: smtp down (attempt 2)" in logged[-1].getMessage()


def make_due(sw_url: str, schema: str, run_id: str) -> None:
    """Move a pending intent's retry time into the past."""
    with psycopg.connect(sw_url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".tasks SET run_after = run_after - 1000 WHERE id = %s', [run_id])


def test_heartbeat_extends_the_lease_beyond_the_lease_duration(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given an executor that asks for a 600 s lease, then waits to be released
    asked, release = threading.Event(), threading.Event()

    def long_step(run: WorkflowRun) -> str:
        run.heartbeat(600)
        asked.set()
        release.wait(30)
        return "done"

    poller = make_poller(sw_url, ["media.%"], lease_duration=30)
    poller.register_executor("media.video.v1", Recorder(long_step))
    run_poller(poller)
    run_id = intents.submit("media.video.v1", {"video_id": "v1"})
    assert asked.wait(30)

    # When the heartbeat is written
    def lease_length() -> float:
        info = intents.client.get(run_id)
        assert info.lease_expires is not None and info.started_at is not None
        return info.lease_expires - info.started_at

    wait_until(lambda: lease_length() > 500, 30, "the lease to reach 600 s")
    # Then the lease runs far past the 30 s lease_duration, and the run still finishes normally
    release.set()
    assert intents.client.wait(run_id, timeout=30).value == "done"


def test_cancelling_a_running_intent_is_seen_by_is_cancelled_and_ends_cancelled(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given an executor that works in chunks, checking for cancellation between them
    started, seen = threading.Event(), threading.Event()

    def chunks(run: WorkflowRun) -> str:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if run.is_cancelled():
                seen.set()
                raise Exception("Workflow cancelled")
            time.sleep(0.02)  # one chunk of work
        return "never cancelled"

    poller = make_poller(sw_url, ["media.%"])
    poller.register_executor("media.video.v1", Recorder(chunks))
    run_poller(poller)
    run_id = intents.submit("media.video.v1", {"video_id": "v2"})
    assert started.wait(30)
    # When the intent is cancelled while it runs
    intents.cancel(run_id)
    result = intents.client.wait(run_id, timeout=30)
    # Then the executor saw it and the run ends cancelled, not retried
    assert seen.is_set()
    assert (result.status, result.attempts) == (TaskStatus.CANCELLED, 1)


def test_a_payload_submitted_positionally_fails_at_once_without_reaching_the_executor(
        sw_url: str, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given a poller, and a task for its type submitted with positional arguments
    executor = Recorder()
    poller = make_poller(sw_url, ["notify.%"])
    poller.register_executor("notify.email.v1", executor)
    run_poller(poller)
    with Client(sw_url) as client:
        handle = client.submit_task("notify.email.v1", ["a@b.c", "Hi"]).retry_policy(RETRY_POLICY).submit()
        # When it runs
        result = handle.wait(timeout=30)
    # Then it fails for good on the first attempt, saying how to submit it
    assert (result.status, result.attempts) == (TaskStatus.FAILED, 1)
    assert result.error is not None
    assert (result.error.error_type, result.error.error_code) == ("TaskValidationError", "INVALID_ARGUMENTS")
    assert "takes a JSON object payload" in result.error.message and "['a@b.c', 'Hi']" in result.error.message
    assert executor.runs == []


def test_a_result_that_is_not_json_fails_the_run(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    poller = make_poller(sw_url, ["notify.%"])
    poller.register_executor("notify.email.v1", Recorder(lambda run: object()))
    run_poller(poller)
    result = intents.client.wait(intents.submit("notify.email.v1", {}), timeout=30)
    assert result.status is TaskStatus.FAILED and result.attempts == 1
    assert result.error is not None and result.error.error_type == "SerializationError"


def test_stop_from_another_thread_lets_the_running_execution_finish(
        sw_url: str, intents: IntentClient) -> None:
    # Given a poller running an execution that waits for a signal
    started, release = threading.Event(), threading.Event()

    def slow(run: WorkflowRun) -> str:
        started.set()
        release.wait(30)
        return "finished"

    poller = make_poller(sw_url, ["media.%"])
    poller.register_executor("media.video.v1", Recorder(slow))
    thread = threading.Thread(target=poller.start)
    thread.start()
    run_id = intents.submit("media.video.v1", {})
    assert started.wait(30)
    # When stop() is called from this thread, and the execution then ends
    poller.stop()
    release.set()
    thread.join(30)
    # Then start() returned and the run's result was recorded
    assert not thread.is_alive()
    assert intents.client.wait(run_id, timeout=30).value == "finished"


def test_metrics_count_runs_by_type_and_status_and_are_served_over_http(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller]) -> None:
    # Given a poller with a metrics collector, one type that succeeds and one that fails
    metrics = MetricsCollector()

    def broken(run: WorkflowRun) -> None:
        raise RuntimeError("broken")

    poller = make_poller(sw_url, ["notify.%"], metrics=metrics)
    poller.register_executor("notify.ok.v1", Recorder(lambda run: "ok"))
    poller.register_executor("notify.bad.v1", Recorder(broken))
    run_poller(poller)
    # When two succeed, one fails for good (a single attempt) and one fails with retries left
    for _ in range(2):
        assert intents.client.wait(intents.submit("notify.ok.v1", {}), timeout=30).success
    once = intents.submit("notify.bad.v1", {}, retry=RetryPolicy.no_retry())
    assert intents.client.wait(once, timeout=30).status is TaskStatus.FAILED
    retried = intents.submit("notify.bad.v1", {})
    wait_until(lambda: intents.client.get(retried).errors != [], 30, "the first failure")
    # Then a scrape shows them by type and status
    server, thread = metrics.start_http_server(0)
    try:
        body = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(body) for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted({"worker_id": "test-worker", **labels}.items()))), 0.0)

    assert value("workflow_run_claimed_total", workflow_type="notify.ok.v1") == 2
    assert value("workflow_run_claimed_total", workflow_type="notify.bad.v1") == 2
    assert value("workflow_run_completed_total", workflow_type="notify.ok.v1", status="succeeded") == 2
    assert value("workflow_run_completed_total", workflow_type="notify.bad.v1", status="failed") == 1
    assert value("workflow_run_completed_total", workflow_type="notify.bad.v1", status="pending") == 1
    assert value("workflow_run_failed_total", workflow_type="notify.bad.v1") == 1
    assert value("workflow_run_failed_attempts_total", workflow_type="notify.bad.v1", attempt="1") == 2
    assert value("workflow_run_execution_duration_seconds_count", workflow_type="notify.ok.v1",
                 status="succeeded") == 2
    assert metrics.exposition().decode() == body     # the same text, for serving from your own application


def test_the_poller_reads_the_readme_environment_variables(
        sw_url: str, intents: IntentClient, run_poller: Callable[[IntentPoller], IntentPoller],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only the README's environment variables
    for key, value in {"DATABASE_URL": sw_url, "WORKER_ID": "env-worker",
                       "WORKER_TYPE_PREFIXES": "billing.%, payment.%",
                       "WORKER_LEASE_DURATION": "12", "POLL_INTERVAL": "0.5"}.items():
        monkeypatch.setenv(key, value)
    # When a poller is made without arguments
    poller = IntentPoller()
    poller.register_executor("payment.refund.v1", Recorder(lambda run: "refunded"))
    run_poller(poller)
    # Then it is configured by them and runs intents
    assert (poller.db_url, poller.worker_id, poller.type_prefixes) == (sw_url, "env-worker", ["billing.%", "payment.%"])
    assert (poller.worker.settings.lease_seconds, poller.worker.settings.poll_seconds) == (12.0, 0.5)
    run_id = intents.submit("payment.refund.v1", {"amount": 5})
    assert intents.client.wait(run_id, timeout=30).value == "refunded"
    assert intents.client.get(run_id).worker_id == "env-worker"


# ---------------------------------------------------------------- wrong input


def test_arguments_win_over_the_environment_and_from_env_reads_a_given_mapping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_ID", "from-env")
    monkeypatch.setenv("POLL_INTERVAL", "not a number")    # unused: the argument is given
    poller = IntentPoller("postgres://u@h/db?search_path=wf", ["a.%"], worker_id="explicit", poll_interval=3)
    assert (poller.worker_id, poller.poll_interval, poller.lease_duration) == ("explicit", 3.0, 30.0)
    env = {"DATABASE_URL": "postgres://u@h/db?search_path=wf", "WORKER_TYPE_PREFIXES": "a.%"}
    other = IntentPoller.from_env(env, worker_id="override")
    assert (other.worker_id, other.type_prefixes, other.poll_interval) == ("override", ["a.%"], 2.0)


def test_defaults_are_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("WORKER_ID", "WORKER_TYPE_PREFIXES", "WORKER_LEASE_DURATION", "POLL_INTERVAL"):
        monkeypatch.delenv(key, raising=False)
    poller = IntentPoller("postgres://u@h/db?search_path=wf", ["a.%"])
    assert (poller.worker_id, poller.poll_interval, poller.lease_duration) == ("python-worker", 2.0, 30.0)


@pytest.mark.parametrize(("env", "message"), [
    ({"WORKER_LEASE_DURATION": "abc"}, "WORKER_LEASE_DURATION must be a positive number of seconds, got 'abc'"),
    ({"WORKER_LEASE_DURATION": "-5"}, "WORKER_LEASE_DURATION must be a positive number of seconds, got -5.0"),
    ({"POLL_INTERVAL": "0"}, "POLL_INTERVAL must be a positive number of seconds, got 0.0"),
    ({"POLL_INTERVAL": "inf"}, "POLL_INTERVAL must be a positive number of seconds, got inf"),
    ({"WORKER_TYPE_PREFIXES": " , "}, "WORKER_TYPE_PREFIXES must list type patterns such as 'billing.%,payment.%', "
                                      "got ' , '"),
    ({"WORKER_TYPE_PREFIXES": "billing %"}, "invalid pattern 'billing %'"),
    ({"DATABASE_URL": "postgres://u@h/db"}, "db_url must include the search_path parameter"),
    ({"DATABASE_URL": ""}, "no database: pass db_url or set DATABASE_URL"),
])
def test_bad_environment_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    environ = {"DATABASE_URL": "postgres://u@h/db?search_path=wf", **env}
    with pytest.raises(ConfigurationError) as err:
        IntentPoller.from_env(environ)
    assert message in str(err.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"db_url": "postgres://user:pass@host/db"}, "db_url must include the search_path parameter"),
    ({"db_url": "postgresql://host/db?sslmode=require&search_path="}, "db_url must include the search_path parameter"),
    ({"db_url": 42}, "db_url must be a database URL"),
    ({"db_url": "postgres://u@h/db?search_path=bad-name"}, "invalid schema name 'bad-name'"),
    ({"type_prefixes": "notify.%"},
     "type_prefixes must be a list of type patterns such as ['notify.%'], got 'notify.%'"),
    ({"type_prefixes": ["notify.%", ""]}, "type_prefixes must hold non-empty strings"),
    ({"worker_id": ""}, "worker_id must be a non-empty string"),
    ({"poll_interval": 0}, "poll_interval must be a positive number of seconds, got 0"),
    ({"lease_duration": "30"}, "lease_duration must be a positive number of seconds, got '30'"),
    ({"lease_duration": True}, "lease_duration must be a positive number of seconds, got True"),
])
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    args = {"db_url": "postgres://u@h/db?search_path=wf", "type_prefixes": ["notify.%"], **kwargs}
    with pytest.raises(ConfigurationError) as err:
        IntentPoller(**args)
    assert message in str(err.value)


def test_the_schema_may_be_given_the_treadle_way_and_then_wins() -> None:
    poller = IntentPoller("postgres://u@h/db?schema=mine&search_path=workflow", ["a.%"])
    assert poller.worker.storage.schema == "mine"  # type: ignore[attr-defined]


def test_bad_registrations_are_refused() -> None:
    poller = IntentPoller("postgres://u@h/db?search_path=wf", ["notify.%"])
    with pytest.raises(ConfigurationError, match=r"workflow type 'billing.invoice.v1' matches none of this "
                                                 r"poller's type_prefixes \['notify.%'\]: it would never be claimed"):
        poller.register_executor("billing.invoice.v1", Recorder())
    with pytest.raises(ConfigurationError, match=r"invalid workflow type 'notify\.%'"):
        poller.register_executor("notify.%", Recorder())
    with pytest.raises(ConfigurationError, match=r"executor for notify\.email\.v1 must have an execute"):
        poller.register_executor("notify.email.v1", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="abstract"):
        type("NoExecute", (WorkflowExecutor,), {})()


def test_start_needs_an_executor_and_runs_once(sw_url: str) -> None:
    poller = make_poller(sw_url, ["notify.%"])
    with pytest.raises(ConfigurationError, match=r"no executors registered: call register_executor\(\) before start"):
        poller.start()
    poller.register_executor("notify.email.v1", Recorder())
    poller.stop()       # stopped before it starts: start() returns at once
    poller.start()
    with pytest.raises(InvalidStateError, match="already started; create a new one"):
        poller.start()


def test_an_unreachable_database_fails_start_with_a_storage_error() -> None:
    poller = IntentPoller("postgres://nobody@127.0.0.1:1/db?search_path=wf&retry_seconds=0.5"
                          "&connect_timeout_seconds=0.5", ["a.%"])
    poller.register_executor("a.b", Recorder())
    with pytest.raises(StorageError, match=r"cannot connect to PostgreSQL at postgres://nobody@127\.0\.0\.1:1/db"):
        poller.start()


def test_intent_client_refuses_bad_input(sw_url: str, intents: IntentClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="payload must be a JSON object"):
        intents.submit("notify.email.v1", ["a@b.c"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="invalid workflow type 'notify email'"):
        intents.submit("notify email", {})
    with pytest.raises(ConfigurationError, match="db_url must include the search_path parameter"):
        IntentClient(sw_url.split("?")[0])
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="db_url must be a database URL"):
        IntentClient()


def test_intent_client_submits_with_the_readme_schedule_and_an_idempotency_key(intents: IntentClient) -> None:
    first = intents.submit("billing.invoice.v1", {"order": 7}, idempotency_key="invoice:7")
    again = intents.submit("billing.invoice.v1", {"order": 8}, idempotency_key="invoice:7")
    info = intents.client.get(first)
    assert again == first
    assert (info.kwargs, info.max_attempts) == ({"order": 7}, 3)
    assert RetryPolicy.from_dict(info.retry_policy) == RETRY_POLICY


def test_a_hand_made_run_lets_executors_be_unit_tested() -> None:
    run = WorkflowRun(id="r1", type="notify.email.v1", payload={"to": "a@b.c"})
    run.heartbeat(60)
    assert (run.attempt, run.max_attempts, run.is_cancelled()) == (0, 3, False)


def test_metrics_without_prometheus_client_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)   # as if the package were not installed
    with pytest.raises(ConfigurationError, match=r"MetricsCollector needs prometheus_client: "
                                                 r"pip install 'treadle\[server\]'"):
        MetricsCollector()
