"""Fuzz the REST API from its own OpenAPI schema: whatever schemathesis sends, the server never answers 5xx.

A real server over SQLite, authenticated with a client key of namespace "default". Most cases
use that namespace (so requests get past the namespace check and reach the store); the rest
leave it to schemathesis. Every 5xx (or dropped connection) is collected and reported at the
end with a curl command that reproduces it; nothing is shrunk, so the run stays short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from live_server import LiveServer
from schemathesis import Case, GenerationMode

from treadle.core import signing
from treadle.settings import ServerSettings
from treadle.storage import open_storage

NAMESPACE = "default"
EXAMPLES_PER_OPERATION = 20


async def _add_client(url: str, key: str) -> None:
    store = open_storage(url)
    await store.open()
    try:
        await store.add_credential("client", "fuzzer", NAMESPACE,  # type: ignore[attr-defined]
                                   key_hash=signing.hash_key(key))
    finally:
        await store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A live server over a fresh SQLite file, and a client API key for "default"."""
    url = f"sqlite:///{tmp_path / 'treadle.db'}"
    key = signing.new_api_key()
    asyncio.run(_add_client(url, key))
    live = LiveServer(open_storage(url), ServerSettings()).start()
    try:
        yield live, key
    finally:
        live.stop()


def _strategy(operation: schemathesis.APIOperation) -> st.SearchStrategy[Case]:
    """Valid and invalid requests, mostly in the caller's own namespace."""
    if "{namespace}" not in operation.path:
        return st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE))
    pinned = {"namespace": NAMESPACE}
    return st.one_of(operation.as_strategy(path_parameters=pinned),
                     operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=pinned),
                     operation.as_strategy())


def _describe(case: Case, headers: dict[str, str], base_url: str, outcome: str) -> str:
    return f"{case.operation.label}: {outcome}\n    {case.as_curl_command(headers, base_url=base_url)}"


def test_no_request_from_the_schema_gets_a_server_error(server: tuple[LiveServer, str]) -> None:
    live, key = server
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    failures: list[str] = []
    counts: dict[str, int] = {}

    with requests.Session() as session:
        for operation in operations:

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=_strategy(operation))
            def exercise(case: Case) -> None:
                counts[case.operation.label] = counts.get(case.operation.label, 0) + 1
                try:
                    response = case.call(base_url=live.url, headers=headers, session=session, timeout=10)
                except requests.RequestException as exc:
                    session.close()     # a dropped keep-alive connection must not fail the next case
                    failures.append(_describe(case, headers, live.url, f"no response ({exc!r})"))
                    return
                if response.status_code >= 500:
                    body = response.content[:500].decode("utf-8", "replace")
                    failures.append(_describe(case, headers, live.url, f"{response.status_code} {body}"))

            exercise()

    assert sum(counts.values()) >= len(operations) * 5, counts
    assert not failures, f"{len(failures)} request(s) got a server error:\n" + "\n".join(failures)
