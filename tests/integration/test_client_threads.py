"""A sync `Client` used from several threads closes everything it opened: nothing is left pending."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys, threading
from treadle import Client
client = Client(sys.argv[1])
client.list()
other = threading.Thread(target=client.list)
other.start()
other.join()
client.close()
print("closed")
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_client_used_from_two_threads_closes_cleanly(backend: str, db_url: str, request: pytest.FixtureRequest,
                                                       subprocess_env: dict[str, str]) -> None:
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    out = subprocess.run([sys.executable, "-X", "dev", "-c", SCRIPT, url], env=subprocess_env, capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "closed\n", "")


FORGETFUL = """
import sys
from treadle import Client
client = Client(sys.argv[1])
client.list()
print("done")
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_client_never_closed_is_closed_at_exit(backend: str, db_url: str, request: pytest.FixtureRequest,
                                                 subprocess_env: dict[str, str]) -> None:
    """A script that forgets `close()` exits without "Task was destroyed but it is pending!" noise."""
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    out = subprocess.run([sys.executable, "-X", "dev", "-c", FORGETFUL, url], env=subprocess_env, capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "done\n", "")


def test_a_client_closed_twice_closes_once(db_url: str) -> None:
    from treadle import Client

    client = Client(db_url)
    client.close()
    client.close()
    assert not client._closer.alive
