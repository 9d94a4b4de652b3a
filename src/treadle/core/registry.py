"""A registry of task definitions and pattern handlers: what one worker (or client) knows how to run.

There is no global registry: each `Worker` and `Client` holds its own, filled explicitly or
from modules named on the command line (`treadle worker --tasks my_app.tasks`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ConfigurationError
from .orchestration import Orchestration
from .routing import Pattern
from .task import FunctionTask, HandlerDefinition, Task, TaskDefinition, TaskLike, definition_of, handler_definition


class Registry:
    """Task definitions by name, plus handlers by pattern (first registered pattern wins)."""

    def __init__(self, tasks: Iterable[TaskLike] = ()) -> None:
        self._tasks: dict[str, TaskDefinition] = {}
        self._handlers: list[HandlerDefinition] = []
        self._orchestrations: dict[str, Orchestration] = {}
        for t in tasks:
            self.add(t)

    def add(self, obj: TaskLike) -> TaskDefinition:
        """Register a task; registering a different task under a taken name is an error."""
        definition = definition_of(obj)
        existing = self._tasks.get(definition.name)
        if existing is not None and (existing.module, existing.qualname) != (definition.module, definition.qualname):
            raise ConfigurationError(f"two different tasks are named {definition.name!r}: "
                                     f"{existing.module}.{existing.qualname} and "
                                     f"{definition.module}.{definition.qualname}")
        self._tasks[definition.name] = definition
        return definition

    def add_handler(self, pattern: str, fn: Callable[[Any], Any]) -> HandlerDefinition:
        """Register a handler that receives the task context for every name matching `pattern`."""
        handler = handler_definition(pattern, fn)
        self._handlers.append(handler)
        return handler

    def add_orchestration(self, obj: Orchestration) -> Orchestration:
        """Register an orchestration; a different one under a taken name is an error."""
        if not isinstance(obj, Orchestration):
            raise ConfigurationError(f"not an orchestration (decorate it with @orchestration): {obj!r}")
        existing = self._orchestrations.get(obj.name)
        if existing is not None and existing.fn is not obj.fn:
            raise ConfigurationError(f"two different orchestrations are named {obj.name!r}")
        self._orchestrations[obj.name] = obj
        return obj

    def orchestration(self, name: str) -> Orchestration | None:
        """The orchestration registered under `name`, if any."""
        return self._orchestrations.get(name)

    @property
    def orchestration_names(self) -> tuple[str, ...]:
        """Every registered orchestration name."""
        return tuple(self._orchestrations)

    def add_module(self, module_name: str) -> int:
        """Import a module and register its tasks; return how many.

        Registered: every `@task` function and `@orchestration` reachable at the module's top level
        (re-exports from submodules included, so a package can gather them in `__init__`), and every
        `Task` subclass defined in the module itself (imported base classes are left out).
        """
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import task module {module_name!r}: {exc}") from exc
        found = 0
        for value in list(vars(module).values()):
            if isinstance(value, Orchestration):
                self.add_orchestration(value)
                found += 1
            elif isinstance(value, FunctionTask) or (
                    isinstance(value, type) and issubclass(value, Task) and value is not Task
                    and value.__module__ == module.__name__):
                self.add(value)
                found += 1
        return found

    def get(self, name: str) -> TaskDefinition | None:
        """The definition registered under `name`, if any."""
        return self._tasks.get(name)

    def handler_for(self, name: str) -> HandlerDefinition | None:
        """The first handler whose pattern matches `name`, if any."""
        return next((h for h in self._handlers if h.pattern.matches(name)), None)

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered task name."""
        return tuple(self._tasks)

    @property
    def handler_patterns(self) -> tuple[Pattern, ...]:
        """Every handler pattern, in registration order."""
        return tuple(h.pattern for h in self._handlers)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks or (isinstance(name, str) and self.handler_for(name) is not None)

    def __len__(self) -> int:
        return len(self._tasks) + len(self._handlers) + len(self._orchestrations)
