"""Bad input over the network: a real server, with authentication, over a SQLite file.

Every client mistake gets the right 4xx with the body `{"error": {"type", "message"}}`; a
credential of one namespace can neither see nor touch another's tasks, and is told so exactly
as if the namespace did not exist. Every response any test receives is checked by an httpx
event hook: a 5xx fails the test at the request that got it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer

from treadle.core import signing
from treadle.settings import ServerSettings
from treadle.storage import open_storage

TASKS_A = "/v1/namespaces/team-a/tasks"
TASKS_B = "/v1/namespaces/team-b/tasks"


@dataclass
class Api:
    """A live server, and HTTP clients signed in to team-a, to team-b, and to nothing."""

    server: LiveServer
    a: httpx.Client
    b: httpx.Client
    anonymous: httpx.Client

    def submit(self, name: str = "reports.daily", **options: Any) -> str:
        """Submit one task to team-a; its id."""
        response = self.a.post(TASKS_A, json={"tasks": [{"name": name, **options}]})
        assert response.status_code == 201, response.text
        return str(response.json()["tasks"][0]["task_id"])

    def ids(self, client: httpx.Client, namespace: str) -> list[str]:
        """Ids of the tasks `client` sees in `namespace`."""
        response = client.get(f"/v1/namespaces/{namespace}/tasks")
        assert response.status_code == 200, response.text
        return [task["id"] for task in response.json()]


StartServer = Callable[..., Api]


def assert_error(response: httpx.Response, status: int, kind: str, fragment: str) -> dict[str, Any]:
    """`response` is `status` with the error body of type `kind` whose message contains `fragment`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert isinstance(error, dict) and {"type", "message"} <= set(error), body
    assert isinstance(error["message"], str)
    assert error["type"] == kind, body
    assert fragment in error["message"], body
    return error


async def _add_clients(url: str, keys: dict[str, str]) -> None:
    store = open_storage(url)
    await store.open()
    try:
        for namespace, key in keys.items():
            await store.add_credential("client", f"client-{namespace}", namespace,  # type: ignore[attr-defined]
                                       key_hash=signing.hash_key(key))
    finally:
        await store.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartServer]:
    """Start authenticated servers (each over its own SQLite file); all are stopped at the end."""
    servers: list[LiveServer] = []
    clients: list[httpx.Client] = []

    def no_server_error(response: httpx.Response) -> None:
        if response.status_code >= 500:
            response.read()
            raise AssertionError(f"{response.request.method} {response.request.url} answered "
                                 f"{response.status_code}: {response.text}")

    def client(base_url: str, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        http = httpx.Client(base_url=base_url, headers=headers, timeout=10,
                            event_hooks={"response": [no_server_error]})
        clients.append(http)
        return http

    def start_server(settings: ServerSettings | None = None) -> Api:
        url = f"sqlite:///{tmp_path / f'treadle-{len(servers)}.db'}"
        keys = {"team-a": signing.new_api_key(), "team-b": signing.new_api_key()}
        asyncio.run(_add_clients(url, keys))
        server = LiveServer(open_storage(url), settings or ServerSettings()).start()
        servers.append(server)
        assert not server.state.settings.insecure
        return Api(server, a=client(server.url, keys["team-a"]), b=client(server.url, keys["team-b"]),
                   anonymous=client(server.url, None))

    try:
        yield start_server
    finally:
        for http in clients:
            http.close()
        for server in servers:
            server.stop()


@pytest.fixture
def api(start: StartServer) -> Api:
    """An authenticated server with default settings."""
    return start()


# --- authentication -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwdw=="}],
                         ids=["no-header", "bearer-without-key", "basic"])
def test_a_request_without_an_api_key_is_refused(api: Api, headers: dict[str, str]) -> None:
    for response in (api.anonymous.get(TASKS_A, headers=headers),
                     api.anonymous.post(TASKS_A, headers=headers, json={"tasks": [{"name": "reports.daily"}]})):
        assert_error(response, 401, "AuthenticationError", "missing API key")
    assert api.ids(api.a, "team-a") == []


def test_an_unknown_api_key_is_refused(api: Api) -> None:
    forged = {"Authorization": f"Bearer {signing.new_api_key()}"}

    response = api.anonymous.get(TASKS_A, headers=forged)

    assert_error(response, 401, "AuthenticationError", "unknown API key")


# --- malformed submissions --------------------------------------------------------------------------------------


def test_a_malformed_json_body_is_refused(api: Api) -> None:
    response = api.a.post(TASKS_A, content=b'{"tasks": [{"name": "reports.daily"',
                          headers={"content-type": "application/json"})

    assert_error(response, 422, "RequestValidationError", "JSON decode error")
    assert api.ids(api.a, "team-a") == []


def test_a_body_with_an_unknown_field_is_refused(api: Api) -> None:
    response = api.a.post(TASKS_A, json={"tasks": [{"name": "reports.daily", "colour": "red"}]})

    assert_error(response, 422, "RequestValidationError", "body.tasks.0.colour: Extra inputs are not permitted")
    assert api.ids(api.a, "team-a") == []


def test_an_invalid_task_name_is_refused(api: Api) -> None:
    response = api.a.post(TASKS_A, json={"tasks": [{"name": "bad name*"}]})

    assert_error(response, 422, "ConfigurationError", "invalid task name 'bad name*'")


def test_a_retry_policy_with_an_unknown_backoff_kind_is_refused(api: Api) -> None:
    policy = {"max_attempts": 3, "backoff": {"kind": "zigzag"}}

    response = api.a.post(TASKS_A, json={"tasks": [{"name": "reports.daily", "retry_policy": policy}]})

    assert_error(response, 422, "ConfigurationError", "unknown backoff kind 'zigzag'")
    assert api.ids(api.a, "team-a") == []


def test_one_bad_item_refuses_the_whole_batch(api: Api) -> None:
    batch = {"tasks": [{"name": "reports.daily"}, {"name": "bad name*"}]}

    assert_error(api.a.post(TASKS_A, json=batch), 422, "ConfigurationError", "invalid task name")

    assert api.ids(api.a, "team-a") == []


def test_a_body_over_the_size_limit_is_refused(start: StartServer) -> None:
    api = start(ServerSettings(max_body_bytes=64 * 1024))
    small = {"tasks": [{"name": "reports.daily", "args": ["x" * 1000]}]}
    big = {"tasks": [{"name": "reports.daily", "args": ["x" * 100_000]}]}

    assert api.a.post(TASKS_A, json=small).status_code == 201
    response = api.a.post(TASKS_A, json=big)

    assert_error(response, 413, "PayloadTooLarge", "over the limit of 65536 bytes")
    assert len(api.ids(api.a, "team-a")) == 1


# --- unknown tasks and wrong states ----------------------------------------------------------------------------


def test_an_unknown_task_id_is_not_found(api: Api) -> None:
    response = api.a.get(f"{TASKS_A}/no-such-task")

    error = assert_error(response, 404, "TaskNotFoundError", "no-such-task")
    assert error["task_id"] == "no-such-task"


def test_retrying_a_pending_task_is_a_conflict(api: Api) -> None:
    task_id = api.submit()

    response = api.a.post(f"{TASKS_A}/{task_id}/retry")

    assert_error(response, 409, "InvalidStateError", "is pending")
    assert api.a.get(f"{TASKS_A}/{task_id}").json()["status"] == "pending"


def test_a_long_poll_answers_with_the_task_as_it_is_when_the_wait_runs_out(api: Api) -> None:
    task_id = api.submit()

    waited = api.a.get(f"{TASKS_A}/{task_id}", params={"wait": 0.2})
    too_long = api.a.get(f"{TASKS_A}/{task_id}", params={"wait": 61})
    cancelled = api.a.post(f"{TASKS_A}/{task_id}/cancel")
    finished = api.a.get(f"{TASKS_A}/{task_id}", params={"wait": 30})

    assert (waited.status_code, waited.json()["status"]) == (200, "pending")
    assert_error(too_long, 422, "RequestValidationError", "query.wait")
    assert cancelled.status_code == 200
    assert (finished.status_code, finished.json()["status"]) == (200, "cancelled")


# --- namespaces -------------------------------------------------------------------------------------------------


def _same_shape(one: httpx.Response, other: httpx.Response, name: str, other_name: str) -> None:
    """Two refusals that differ only by the namespace they name."""
    assert one.status_code == other.status_code == 404
    assert one.headers["content-type"] == other.headers["content-type"]
    assert one.json() == json.loads(other.text.replace(repr(other_name), repr(name)))


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("POST", "/cancel"), ("POST", "/retry")])
def test_another_namespace_s_task_is_answered_as_a_namespace_that_does_not_exist(
        api: Api, method: str, suffix: str) -> None:
    task_id = api.submit()

    through_team_a = api.b.request(method, f"{TASKS_A}/{task_id}{suffix}")
    through_nowhere = api.b.request(method, f"/v1/namespaces/nowhere/tasks/{task_id}{suffix}")

    assert_error(through_team_a, 404, "NamespaceNotFound", "no namespace 'team-a'")
    assert_error(through_nowhere, 404, "NamespaceNotFound", "no namespace 'nowhere'")
    _same_shape(through_team_a, through_nowhere, "team-a", "nowhere")
    assert api.a.get(f"{TASKS_A}/{task_id}").json()["status"] == "pending"


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("POST", "/cancel")])
def test_another_namespace_s_task_id_in_one_s_own_namespace_is_not_found(
        api: Api, method: str, suffix: str) -> None:
    task_id = api.submit()

    theirs = api.b.request(method, f"{TASKS_B}/{task_id}{suffix}")
    nobody_s = api.b.request(method, f"{TASKS_B}/no-such-task{suffix}")

    assert_error(theirs, 404, "TaskNotFoundError", task_id)
    assert_error(nobody_s, 404, "TaskNotFoundError", "no-such-task")
    assert set(theirs.json()["error"]) == set(nobody_s.json()["error"])
    assert api.a.get(f"{TASKS_A}/{task_id}").json()["status"] == "pending"


def test_a_key_cannot_submit_to_another_namespace_s_url(api: Api) -> None:
    before = api.ids(api.a, "team-a")

    response = api.b.post(TASKS_A, json={"tasks": [{"name": "reports.daily"}]})

    assert_error(response, 404, "NamespaceNotFound", "no namespace 'team-a'")
    assert api.ids(api.a, "team-a") == before
    assert api.ids(api.b, "team-b") == []


def test_an_item_naming_another_namespace_stores_nothing(api: Api) -> None:
    existing = api.submit()
    batch = {"tasks": [{"name": "reports.daily"}, {"name": "reports.daily", "namespace": "team-a"}]}

    response = api.b.post(TASKS_B, json=batch)

    assert_error(response, 404, "NamespaceNotFound", "no namespace 'team-a'")
    assert api.ids(api.a, "team-a") == [existing]
    assert api.ids(api.b, "team-b") == []


def test_an_unknown_namespace_in_the_url_is_not_found(api: Api) -> None:
    response = api.a.get("/v1/namespaces/nowhere/tasks")

    assert_error(response, 404, "NamespaceNotFound", "no namespace 'nowhere'")


# --- a server that knows its tasks ----------------------------------------------------------------------------


@pytest.fixture
def strict_api(start: StartServer) -> Api:
    """A server started with the tasks of `unit_tasks_fixture` (fixture.add(a: int, b: int), ...)."""
    return start(ServerSettings(task_modules=("unit_tasks_fixture",)))


def test_a_server_with_task_modules_refuses_an_unknown_task_name(strict_api: Api) -> None:
    response = strict_api.a.post(TASKS_A, json={"tasks": [{"name": "fixture.subtract", "args": [1, 2]}]})

    assert_error(response, 422, "UnknownTaskError", "unknown task name 'fixture.subtract'")
    assert strict_api.ids(strict_api.a, "team-a") == []


@pytest.mark.parametrize("item, fragment", [
    ({"args": ["one", 2]}, "a: Input should be a valid integer"),
    ({"args": [1]}, "missing a required argument: 'b'"),
    ({"args": [1, 2], "kwargs": {"c": 3}}, "unexpected keyword argument 'c'"),
], ids=["wrong-type", "missing", "unexpected"])
def test_a_server_with_task_modules_refuses_invalid_arguments(strict_api: Api, item: dict[str, Any],
                                                               fragment: str) -> None:
    response = strict_api.a.post(TASKS_A, json={"tasks": [{"name": "fixture.add", **item}]})

    error = assert_error(response, 422, "TaskValidationError", fragment)
    assert "invalid arguments for task fixture.add" in error["message"]
    assert strict_api.ids(strict_api.a, "team-a") == []


def test_a_server_with_task_modules_accepts_valid_arguments(strict_api: Api) -> None:
    task_id = strict_api.submit("fixture.add", args=[1, 2])

    assert strict_api.a.get(f"{TASKS_A}/{task_id}").json()["args"] == [1, 2]


# --- health, schema and metrics -----------------------------------------------------------------------------------


def test_health_and_readiness(api: Api) -> None:
    health = api.anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = api.anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_the_openapi_schema_lists_the_tasks_route(api: Api) -> None:
    response = api.anonymous.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert {"post", "get"} <= set(schema["paths"]["/v1/namespaces/{namespace}/tasks"])


def test_metrics_count_submissions_by_task_name(api: Api) -> None:
    api.submit("reports.daily")

    response = api.anonymous.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'treadle_tasks_submitted_total{name="reports.daily"} 1.0' in response.text.splitlines()


# --- inputs that once slipped through: overflow, bytes that are not UTF-8, a streamed body over the limit ---------


def test_an_infinite_max_attempts_in_a_retry_policy_is_refused(api: Api) -> None:
    body = b'{"tasks": [{"name": "reports.daily", "retry_policy": {"max_attempts": 1e400}}]}'

    response = api.a.post(TASKS_A, content=body, headers={"content-type": "application/json"})

    assert_error(response, 422, "ConfigurationError", "max_attempts")


def test_a_body_that_is_not_utf8_is_refused_with_an_error_body(api: Api) -> None:
    response = api.a.post(TASKS_A, content=b'{"tasks": [{"name": "\xff"}]}',
                          headers={"content-type": "application/json"})

    assert 400 <= response.status_code < 500
    assert list(response.json()) == ["error"], response.text


def test_a_chunked_body_over_the_size_limit_is_refused(start: StartServer) -> None:
    api = start(ServerSettings(max_body_bytes=64 * 1024))
    big = json.dumps({"tasks": [{"name": "reports.daily", "args": ["x" * 100_000]}]}).encode()

    def chunks() -> Iterator[bytes]:    # no Content-Length: the limit is enforced as the body streams in
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    response = api.a.post(TASKS_A, content=chunks(), headers={"content-type": "application/json"})

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "PayloadTooLarge", "over the limit of 65536 bytes")
