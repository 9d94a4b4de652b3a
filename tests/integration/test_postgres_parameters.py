"""The parameters the PostgreSQL backend encodes itself (as text, not through psycopg's list dumpers)
read back on the server exactly as they were meant."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from treadle.core.routing import Pattern
from treadle.storage.postgres import _name_params, _text_array


@pytest.fixture
def conn(pg_conninfo: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_conninfo) as connection:
        yield connection


@pytest.mark.parametrize("items", [
    [],
    ["math.add", "billing.invoice.v1"],
    ['we"ird', "back\\slash", "comma,brace{}", "", "NULL", "spaced out", "é"],
])
def test_a_text_array_literal_is_read_as_the_same_list(conn: psycopg.Connection[tuple[object, ...]],
                                                       items: list[str]) -> None:
    row = conn.execute("SELECT %s::text[]", [_text_array(items)]).fetchone()

    assert row is not None and row[0] == items


def test_name_patterns_match_in_sql_as_they_do_in_python(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    patterns = [Pattern("send_email"), Pattern("math.*"), Pattern("a_?c")]
    params = _name_params(patterns)
    names = ["send_email", "sendXemail", "math.add", "mathXadd", "a_bc", "aXbc"]

    rows = conn.execute("SELECT n FROM unnest(%(all)s::text[]) AS n "
                        "WHERE n = ANY(%(names)s::text[]) OR n LIKE ANY(%(likes)s::text[]) ORDER BY n",
                        {"all": names, **params}).fetchall()

    assert [r[0] for r in rows] == ["a_bc", "math.add", "send_email"]
