"""Orchestration definitions: a name bound to a generator function `(ctx, input)`.

Defining one is pure; running it is the replay engine's job (`treadle.workflow.replay`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from ..errors import ConfigurationError
from .routing import validate_name


@dataclass(frozen=True, slots=True)
class Orchestration:
    """A registered orchestration: `fn(ctx, input)` yields what `ctx` schedules and returns the output.

    It must be deterministic: no I/O, clocks or randomness except through `ctx`. Change it
    safely by registering a new name (`order.v2`) or guarding the change with `ctx.patched(...)`.
    """

    name: str
    fn: Callable[..., Any]

    def __post_init__(self) -> None:
        validate_name(self.name, "orchestration name")
        if not callable(self.fn):
            raise ConfigurationError(f"orchestration {self.name} is not callable")

    def __call__(self, ctx: Any, input: Any) -> Any:
        return self.fn(ctx, input)


@overload
def orchestration(fn: Callable[..., Any], /) -> Orchestration: ...


@overload
def orchestration(*, name: str | None = None) -> Callable[[Callable[..., Any]], Orchestration]: ...


def orchestration(fn: Callable[..., Any] | None = None, /, *,
                  name: str | None = None) -> Orchestration | Callable[[Callable[..., Any]], Orchestration]:
    """Declare a generator function `(ctx, input)` as an orchestration (name: default the function's)."""

    def wrap(f: Callable[..., Any]) -> Orchestration:
        return Orchestration(name if name is not None else str(getattr(f, "__name__", "")), f)

    return wrap(fn) if fn is not None else wrap
