"""Remote workers over the WebSocket: signed handshakes, refusals with reasons, namespaces, revocation, scale.

A real server runs on loopback over a SQLite file, with authentication on; workers and clients
connect with credentials created the way `treadle auth` creates them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from live_server import LiveServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from treadle import AsyncClient, AuthenticationError, ConfigurationError, Worker, WorkerSettings, current_context, task
from treadle.core import signing
from treadle.core.records import NewTask
from treadle.core.routing import Pattern
from treadle.settings import ServerSettings
from treadle.storage import open_storage
from treadle.storage.remote import RemoteStorage

FAST = WorkerSettings(lease_seconds=5, heartbeat_seconds=0.5, poll_seconds=0.5, sweep_seconds=0.2)


@task(name="remote.double")
def double(n: int) -> int:
    return 2 * n


_seen = threading.Event()


@task(name="remote.report")
def report(percent: float) -> str:
    """Reports progress, then waits until the test has seen it."""
    ctx = current_context()
    ctx.progress(percent, "half way", {"rows": 10})
    if not _seen.wait(20):
        raise TimeoutError("the test never saw the progress")
    return ctx.worker_id


@dataclass
class Creds:
    server: LiveServer
    store: Any
    keys: dict[str, str]
    secrets: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def hello(self, worker_id: str, *, secret: str | None = None, timestamp: float | None = None,
              nonce: str | None = None) -> dict[str, Any]:
        ts = time.time() if timestamp is None else timestamp
        nonce = nonce or signing.new_nonce()
        return {"type": "hello", "worker_id": worker_id, "timestamp": ts, "nonce": nonce,
                "signature": signing.sign(secret or self.secrets[worker_id], worker_id, ts, nonce)}


@pytest.fixture
async def creds(tmp_path: Path) -> AsyncIterator[Creds]:
    """A server with auth on; clients `a` (namespace team-a) and `b` (team-b), workers `wa`, `wa2` and `wb`."""
    store = open_storage(f"sqlite:///{tmp_path / 'server.db'}")
    await store.open()
    keys = {"a": signing.new_api_key(), "b": signing.new_api_key()}
    secrets = {w: signing.new_worker_secret() for w in ("wa", "wa2", "wb")}
    for name, ns in (("a", "team-a"), ("b", "team-b")):
        await store.add_credential("client", name, ns, key_hash=signing.hash_key(keys[name]))  # type: ignore[attr-defined]
    for worker, ns in (("wa", "team-a"), ("wa2", "team-a"), ("wb", "team-b")):
        await store.add_credential("worker", worker, ns, secret=secrets[worker])  # type: ignore[attr-defined]
    server = LiveServer(store, ServerSettings(credential_check_seconds=0.2)).start()
    try:
        yield Creds(server, store, keys, secrets)
    finally:
        server.stop()


def handshake(url: str, hello: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Send a hello on a raw WebSocket: the server's answer, and the close code if it then closed."""
    with connect(url.replace("http://", "ws://") + "/ws") as ws:
        ws.send(orjson.dumps(hello).decode())
        answer = orjson.loads(ws.recv(timeout=10))
        if answer["type"] != "refused":
            return answer, None
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        return answer, closed.value.rcvd.code


def refusal(url: str, hello: dict[str, Any]) -> str:
    """The reason the server gives for refusing `hello` (and checks it closed with 4401)."""
    answer, code = handshake(url, hello)
    assert (answer["type"], code) == ("refused", 4401)
    return str(answer["reason"])


def test_a_signed_handshake_is_welcomed_into_its_namespace(creds: Creds) -> None:
    answer, _ = handshake(creds.url, creds.hello("wa"))
    assert answer == {"type": "welcome", "namespace": "team-a", "worker_id": "wa"}


def test_each_bad_handshake_is_refused_with_its_reason(creds: Creds) -> None:
    assert refusal(creds.url, creds.hello("wa", secret="tdw_wrong")) == "bad signature: the worker secret is wrong"
    assert "off the server's clock" in refusal(creds.url, creds.hello("wa", timestamp=time.time() - 3600))
    assert refusal(creds.url, creds.hello("nobody", secret="x")) == "unknown worker 'nobody'"
    replayed = creds.hello("wa")
    assert handshake(creds.url, replayed)[0]["type"] == "welcome"
    assert refusal(creds.url, replayed) == "replayed handshake: this nonce was used before"
    assert "missing credentials" in refusal(creds.url, {"type": "hello", "worker_id": "wa"})
    unsigned = {"type": "hello", "worker_id": "wa", "signature": "00"}
    assert "needs worker_id, timestamp, nonce and signature" in refusal(creds.url, unsigned)
    assert refusal(creds.url, {"type": "hello", "api_key": "tdk_nope"}) == "unknown API key"
    assert "first message must be" in refusal(creds.url, {"type": "hi"})


def ws_calls(url: str, hello: dict[str, Any], *requests: tuple[str, Any]) -> list[dict[str, Any]]:
    """Sign in with `hello`, send each (op, args) request in turn: the server's answers."""
    answers = []
    with connect(url.replace("http://", "ws://") + "/ws") as ws:
        ws.send(orjson.dumps(hello).decode())
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        for ident, (op, args) in enumerate(requests, 1):
            ws.send(orjson.dumps({"id": ident, "op": op, "args": args}).decode())
            while (answer := orjson.loads(ws.recv(timeout=10))).get("id") != ident:
                pass                                            # a change hint
            answers.append(answer)
    return answers


def test_a_client_submits_and_reads_tasks_on_the_websocket(creds: Creds) -> None:
    key = {"type": "hello", "api_key": creds.keys["a"]}
    item = {"id": "ws-1", "name": "remote.double", "args": [4]}
    submitted, again, read, waited = ws_calls(
        creds.url, key, ("submit", {"namespace": "team-a", "body": {"tasks": [item]}}),
        ("submit", {"namespace": "team-a", "body": {"tasks": [item]}}),
        ("get_task", {"namespace": "team-a", "task_id": "ws-1"}),
        ("get_task", {"namespace": "team-a", "task_id": "ws-1", "wait": 0.2}))

    assert submitted["result"] == [{"task_id": "ws-1", "created": True}]
    assert again["result"] == [{"task_id": "ws-1", "created": False}]      # the id decides duplicates
    assert (read["result"]["id"], read["result"]["status"], read["result"]["args"]) == ("ws-1", "pending", [4])
    assert waited["result"]["status"] == "pending"                         # the wait ran out


def test_each_bad_client_request_on_the_websocket_gets_its_error_and_stores_nothing(creds: Creds) -> None:
    key = {"type": "hello", "api_key": creds.keys["a"]}
    answers = ws_calls(
        creds.url, key,
        ("submit", {"namespace": "team-a", "body": {"tasks": []}}),
        ("submit", {"namespace": "team-a", "body": {"tasks": [{"id": "bad-1", "name": "x", "colour": "red"}]}}),
        ("submit", {"namespace": "team-a", "body": "not an object"}),
        ("submit", {"namespace": "team-a", "body": {"tasks": [{"id": "bad-2", "name": "not a name!"}]}}),
        ("submit", {"namespace": "team-b", "body": {"tasks": [{"id": "bad-3", "name": "remote.double"}]}}),
        ("submit", {"namespace": "team-a", "body": {"tasks": [
            {"id": "bad-4", "name": "remote.double"},
            {"id": "bad-5", "name": "remote.double", "namespace": "team-b"}]}}),
        ("get_task", {"namespace": "team-a", "task_id": "nope"}),
        ("get_task", {"namespace": "team-a", "task_id": "bad-4", "wait": 61}),
        ("get_task", {"namespace": "team-a", "task_id": ""}),
        ("get_task", {"namespace": "team-b", "task_id": "bad-4"}))
    errors = [(a["error"]["type"], a["error"]["message"]) for a in answers]

    assert errors[0] == ("WireError", "invalid submission: tasks: List should have at least 1 item after validation, "
                                      "not 0")
    assert errors[1] == ("WireError", "invalid submission: tasks.0.colour: Extra inputs are not permitted")
    assert errors[2][0] == "WireError" and errors[2][1].startswith("invalid submission: ")
    assert errors[3][0] == "ConfigurationError" and "invalid task name 'not a name!'" in errors[3][1]
    assert errors[4] == errors[5] == ("NamespaceNotFound", "no namespace 'team-b'")
    assert errors[6] == ("TaskNotFoundError", "no task with id 'nope'")
    assert errors[7] == ("WireError", "wait must be a number of seconds in [0, 60], got 61")
    assert errors[8] == ("WireError", "task_id must be a non-empty string of at most 500 characters")
    assert errors[9] == ("NamespaceNotFound", "no namespace 'team-b'")
    # nothing of the refused batches was stored
    reads = [("get_task", {"namespace": "team-a", "task_id": f"bad-{i}"}) for i in range(1, 6)]
    found = ws_calls(creds.url, key, *reads)
    assert {a["error"]["type"] for a in found} == {"TaskNotFoundError"}


def test_a_peer_hears_only_the_kinds_of_change_it_subscribed_to(creds: Creds) -> None:
    def submit(ws: Any, ident: int, task_id: str) -> None:
        item = {"id": task_id, "name": "remote.double", "args": [1]}
        ws.send(orjson.dumps({"id": ident, "op": "submit", "args": {"namespace": "team-a",
                                                                    "body": {"tasks": [item]}}}).decode())

    with connect(creds.url.replace("http://", "ws://") + "/ws") as ws:
        ws.send(orjson.dumps({"type": "hello", "api_key": creds.keys["a"], "subscribe": ""}).decode())
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        # Given a client that asked for no hints, when it submits work, no hint of new work comes
        submit(ws, 1, "sub-1")
        assert orjson.loads(ws.recv(timeout=10)) == {"id": 1, "result": [{"task_id": "sub-1", "created": True}]}
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        # A bad subscription is refused with the reason
        for ident, kinds in ((2, "q"), (3, 5)):
            ws.send(orjson.dumps({"id": ident, "op": "subscribe", "args": {"kinds": kinds}}).decode())
            assert orjson.loads(ws.recv(timeout=10))["error"] == {
                "type": "WireError", "message": f"kinds must be letters of 'wti', got {kinds!r}"}
        # Once it subscribes to new work, the next submission brings the hint
        ws.send(orjson.dumps({"id": 4, "op": "subscribe", "args": {"kinds": "w"}}).decode())
        assert orjson.loads(ws.recv(timeout=10)) == {"id": 4, "result": None}
        submit(ws, 5, "sub-2")
        messages = [orjson.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert {"type": "changed", "kinds": "w"} in messages


def test_a_worker_credential_cannot_submit_or_read_on_the_websocket(creds: Creds) -> None:
    answers = ws_calls(creds.url, creds.hello("wa"),
                       ("submit", {"namespace": "team-a", "body": {"tasks": [{"name": "remote.double"}]}}),
                       ("get_task", {"namespace": "team-a", "task_id": "x"}))

    assert [(a["error"]["type"], a["error"]["message"]) for a in answers] == [
        ("PermissionDenied", "a worker credential cannot submit or read tasks: use a client API key")] * 2


async def test_a_worker_with_a_wrong_secret_fails_at_start_with_the_reason(creds: Creds) -> None:
    worker = Worker(creds.url, tasks=[double], namespace="team-a", worker_id="wa", worker_token="tdw_wrong",
                    settings=FAST)
    with pytest.raises(AuthenticationError, match="bad signature"):
        await asyncio.wait_for(worker.run(), 20)


async def test_remote_workers_run_tasks_report_progress_and_are_listed(creds: Creds) -> None:
    worker = Worker(creds.url, tasks=[double, report], namespace="team-a", worker_id="wa",
                    worker_token=creds.secrets["wa"], resource_info={"gpu": 2, "host": "rig-1"}, settings=FAST)
    running = asyncio.create_task(worker.run())
    try:
        async with AsyncClient(creds.url, namespace="team-a", api_key=creds.keys["a"]) as client:
            handles = [await client.submit_task("remote.double", {"n": n}).submit() for n in range(20)]
            results = [await h.wait(20) for h in handles]
            assert [r.value for r in results] == [2 * n for n in range(20)]
            _seen.clear()
            handle = await client.submit_task("remote.report", {"percent": 50}).submit()
            deadline = time.monotonic() + 20
            while (progress := (await handle.info()).progress) is None:
                assert time.monotonic() < deadline, "no progress arrived"
                await asyncio.sleep(0.02)
            assert (progress.percent, progress.message, progress.data) == (50, "half way", {"rows": 10})
            [listed] = await client.workers()
            assert (listed["worker_id"], listed["resource_info"], listed["running"]) == (
                "wa", {"gpu": 2, "host": "rig-1"}, [handle.id])
            _seen.set()
            assert (await handle.wait(20)).value == "wa"
        # and the server's metrics saw it all, by task name
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{creds.url}/metrics")).text.splitlines()
        for line in ('treadle_tasks_submitted_total{name="remote.double"} 20.0',
                     'treadle_tasks_started_total{name="remote.double"} 20.0',
                     'treadle_tasks_succeeded_total{name="remote.double"} 20.0',
                     'treadle_task_run_seconds_count{name="remote.double"} 20.0',
                     "treadle_connected_workers 1.0"):
            assert line in metrics, line
    finally:
        worker.stop()
        await asyncio.wait_for(running, 20)


async def test_a_credential_cannot_reach_into_another_namespace(creds: Creds) -> None:
    remote = RemoteStorage(creds.url, worker_id="wb", worker_token=creds.secrets["wb"], api_key=creds.keys["b"])
    await remote.open()
    try:
        async with AsyncClient(creds.url, namespace="team-a", api_key=creds.keys["a"]) as a:
            secret_task = (await a.submit_task("remote.double", {"n": 1}).submit()).id
        # worker verbs naming team-a are answered as if team-a did not exist
        with pytest.raises(ConfigurationError, match="no namespace 'team-a'"):
            await remote.claim(namespace="team-a", worker_id="wb", patterns=[Pattern("*")], limit=5,
                               lease_seconds=30)
        with pytest.raises(ConfigurationError, match="no namespace 'team-a'"):
            await remote.reap_expired("team-a", 10)
        # so are client reads (exactly as for a namespace nobody has) and batched submissions that slip a
        # team-a item into a team-b request
        with pytest.raises(ConfigurationError, match="no namespace 'team-a'"):
            await remote.get("team-a", secret_task)
        with pytest.raises(ConfigurationError, match="no namespace 'nobody-has-this'"):
            await remote.get("nobody-has-this", secret_task)
        with pytest.raises(ConfigurationError, match="no namespace 'team-a'"):
            await remote.enqueue([NewTask(id="x1", name="remote.double", namespace="team-b"),
                                  NewTask(id="x2", name="remote.double", namespace="team-a")])
        assert await remote.get("team-b", "x1") is None        # the whole batch was refused
        # and its own namespace holds nothing of team-a's
        assert (await remote.claim(namespace="team-b", worker_id="wb", patterns=[Pattern("*")], limit=5,
                                   lease_seconds=30)).tasks == []
    finally:
        await remote.close()


async def test_a_client_key_cannot_lease_tasks(creds: Creds) -> None:
    remote = RemoteStorage(creds.url, api_key=creds.keys["a"])
    await remote.open()
    try:
        with pytest.raises(Exception, match="a client API key cannot lease or finish tasks"):
            await remote.claim(namespace="team-a", worker_id="x", patterns=[Pattern("*")], limit=1, lease_seconds=30)
    finally:
        await remote.close()


async def test_a_revoked_worker_is_dropped_and_refused(creds: Creds) -> None:
    worker = Worker(creds.url, tasks=[double], namespace="team-a", worker_id="wa2",
                    worker_token=creds.secrets["wa2"], settings=FAST)
    running = asyncio.create_task(worker.run())
    async with AsyncClient(creds.url, namespace="team-a", api_key=creds.keys["a"]) as client:
        deadline = time.monotonic() + 20
        while not await client.workers():
            assert time.monotonic() < deadline, "the worker never connected"
            await asyncio.sleep(0.05)
        assert await creds.store.revoke_credential("worker", "wa2")
        with pytest.raises(AuthenticationError, match="credential revoked"):
            await asyncio.wait_for(running, 20)
        assert await client.workers() == []
    assert refusal(creds.url, creds.hello("wa2")) == "worker 'wa2' was revoked"


@pytest.fixture
def fifty(creds: Creds) -> Iterator[list[Worker]]:
    workers = [Worker(creds.url, tasks=[gather], namespace="team-a", worker_id="wa", worker_token=creds.secrets["wa"],
                      concurrency=1, settings=FAST) for _ in range(50)]
    yield workers


_barrier = threading.Barrier(50)


@task(name="remote.gather")
def gather(k: int) -> int:
    """Returns only once 50 copies run at once: proof that 50 workers each got one."""
    _barrier.wait(timeout=60)
    return k


async def test_fifty_workers_connected_at_once_all_get_work(creds: Creds, fifty: list[Worker]) -> None:
    _barrier.reset()
    runs = [asyncio.create_task(w.run()) for w in fifty]
    try:
        async with AsyncClient(creds.url, namespace="team-a", api_key=creds.keys["a"]) as client:
            handles = [await client.submit_task("remote.gather", {"k": k}).submit() for k in range(50)]
            results = [await h.wait(90) for h in handles]
            assert all(r.success for r in results), [r.error for r in results if not r.success]
            assert len(await client.workers()) == 50
        ran = sum(w.counters["tasks_succeeded"] for w in fifty)
        assert ran == 50 and all(w.counters["tasks_succeeded"] == 1 for w in fifty)
    finally:
        for w in fifty:
            w.stop(hurry=True)
        await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 60)


async def test_two_servers_on_one_postgresql_serve_the_same_data(pg_url: str) -> None:
    # Given two servers over one PostgreSQL, a worker connected to the second
    servers = [LiveServer(open_storage(pg_url)).start() for _ in range(2)]
    worker = Worker(servers[1].url, tasks=[double], settings=FAST)
    running = asyncio.create_task(worker.run())
    try:
        # When a client of the first submits
        async with AsyncClient(servers[0].url) as first, AsyncClient(servers[1].url) as second:
            handle = await first.submit_task(double, {"n": 21}).submit()
            # Then the worker on the other server runs it at once (the hint crosses servers through
            # LISTEN/NOTIFY) and both servers show the result
            assert (await handle.wait(20)).value == 42
            assert (await second.get(handle.id)).result == 42
    finally:
        worker.stop()
        await asyncio.wait_for(running, 20)
        for server in servers:
            server.stop()


async def test_a_client_carries_on_after_the_server_restarts(creds: Creds) -> None:
    worker = Worker(creds.url, tasks=[double], namespace="team-a", worker_id="wa", worker_token=creds.secrets["wa"],
                    settings=FAST, reconnect_interval=0.05)
    running = asyncio.create_task(worker.run())
    try:
        async with AsyncClient(creds.url, namespace="team-a", api_key=creds.keys["a"]) as client:
            assert (await (await client.submit_task(double, [1]).submit()).wait(timeout=20)).value == 2
            # When the server goes away and comes back on the same port
            port = creds.server.port
            creds.server.stop()
            restarted = LiveServer(open_storage(creds.store.url), ServerSettings(), port=port).start()
            try:
                # Then the same client's next submit and wait go through once its socket is back
                handle = await client.submit_task(double, [21]).submit()
                assert (await handle.wait(timeout=20)).value == 42
                assert [i.id for i in await client.list(limit=10)].count(handle.id) == 1
            finally:
                worker.stop()
                await asyncio.wait_for(running, 20)
                restarted.stop()
    finally:
        if not running.done():
            worker.stop(hurry=True)
            await asyncio.wait_for(running, 20)
