"""JSON encoding of arguments, results, metadata and errors (orjson).

Payloads are JSON, never pickle: whatever a task returns must survive the trip through storage
and across the network. Pydantic models and dataclasses are encoded as their JSON form.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from ..errors import SerializationError

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def is_model(value: Any) -> bool:
    """Whether `value` is a Pydantic model instance.

    Only a program that imported Pydantic can hold a model, so the others never load it
    (it is a large share of a worker's start-up time).
    """
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _default(value: Any) -> Any:
    if is_model(value):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(value: Any, *, what: str = "value") -> str:
    """Encode `value` as JSON text; `what` names it in the error ("result of task x")."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"{what} cannot be stored as JSON: {exc}") from exc


def loads(text: str | bytes | None) -> Any:
    """Decode JSON text; `None` (a missing column) decodes to `None`."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"invalid JSON: {exc}") from exc


def to_jsonable(value: Any, *, what: str = "value") -> Any:
    """The plain-JSON form of `value` (what a reader will get back after storage)."""
    return loads(dumps(value, what=what))
