"""JSON encoding of payloads: what can be stored, what cannot, and the errors that say so."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from treadle.core import serde
from treadle.errors import SerializationError


class Point(BaseModel):
    x: int
    y: int
    label: str | None = None


class Shipment(BaseModel):
    to: Point
    sent: dt.datetime
    tags: set[str] = set()


@dataclasses.dataclass
class Size:
    width: int
    height: int


@pytest.mark.parametrize(("value", "text"), [
    (None, "null"),
    ({"a": [1, 2.5, "x", True, None]}, '{"a":[1,2.5,"x",true,null]}'),
    ((1, 2), "[1,2]"),
    ({1: "one"}, '{"1":"one"}'),
    (Point(x=1, y=2), '{"x":1,"y":2,"label":null}'),
    ({"p": [Point(x=0, y=-1, label="o")]}, '{"p":[{"x":0,"y":-1,"label":"o"}]}'),
    (Size(3, 4), '{"width":3,"height":4}'),
    (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), '"2024-01-02T03:04:05+00:00"'),
    (dt.datetime(2024, 1, 2, 3, 4, 5), '"2024-01-02T03:04:05"'),
    (dt.date(2024, 1, 2), '"2024-01-02"'),
    (uuid.UUID(int=1), '"00000000-0000-0000-0000-000000000001"'),
    (set(), "[]"),
    ({"only"}, '["only"]'),
])
def test_dumps_encodes_json_values_models_and_standard_types(value: Any, text: str) -> None:
    assert serde.dumps(value) == text


@pytest.mark.parametrize("value", [{3, 1, 2}, frozenset({"b", "a"})])
def test_sets_are_encoded_as_lists_of_their_members(value: set[Any] | frozenset[Any]) -> None:
    decoded = serde.loads(serde.dumps(value))

    assert isinstance(decoded, list)
    assert sorted(decoded) == sorted(value)


def test_a_model_with_nested_models_sets_and_datetimes_becomes_plain_json() -> None:
    shipment = Shipment(to=Point(x=1, y=2), sent=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC), tags={"fragile"})

    assert serde.to_jsonable(shipment) == {"to": {"x": 1, "y": 2, "label": None},
                                           "sent": "2024-05-06T07:08:09Z", "tags": ["fragile"]}


def test_to_jsonable_gives_what_a_reader_gets_back_after_storage() -> None:
    assert serde.to_jsonable({"t": (1, 2), "p": Point(x=1, y=1)}) == {"t": [1, 2], "p": {"x": 1, "y": 1,
                                                                                         "label": None}}


@pytest.mark.parametrize("value", [{"k": object()}, [1, object()], object()])
def test_an_object_that_is_not_json_is_a_serialization_error_naming_what_it_was(value: Any) -> None:
    with pytest.raises(SerializationError) as info:
        serde.dumps(value, what="the result of task math.add")

    assert str(info.value).startswith("the result of task math.add cannot be stored as JSON: ")
    assert "object" in str(info.value)
    assert isinstance(info.value.__cause__, TypeError)


def test_the_default_what_is_value() -> None:
    with pytest.raises(SerializationError, match=r"^value cannot be stored as JSON: "):
        serde.dumps(object())


def test_an_integer_beyond_64_bits_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match=r"^arguments cannot be stored as JSON: "):
        serde.dumps([2**70], what="arguments")


def test_to_jsonable_reports_errors_like_dumps() -> None:
    with pytest.raises(SerializationError, match=r"^metadata cannot be stored as JSON"):
        serde.to_jsonable({"x": object()}, what="metadata")


@pytest.mark.parametrize(("text", "value"), [
    ('{"a":[1,2]}', {"a": [1, 2]}),
    (b'{"a":1}', {"a": 1}),
    ("null", None),
    ('"x"', "x"),
    (None, None),
])
def test_loads_decodes_text_bytes_and_missing_columns(text: str | bytes | None, value: Any) -> None:
    assert serde.loads(text) == value


@pytest.mark.parametrize("text", ["{", "", "{'a': 1}", "[1,]", b"\xff", "NaN"])
def test_invalid_json_is_a_serialization_error(text: str | bytes) -> None:
    with pytest.raises(SerializationError, match=r"^invalid JSON: "):
        serde.loads(text)
