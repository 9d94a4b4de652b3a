"""The registry: task definitions by name, handlers by pattern, tasks found in modules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel

from treadle.core.registry import Registry
from treadle.core.routing import Pattern
from treadle.core.task import Task, TaskDefinition, task
from treadle.errors import ConfigurationError


@task(name="math.add")
def add(a: int, b: int) -> int:
    return a + b


@task(name="math.sub")
def sub(a: int, b: int) -> int:
    return a - b


class Resize(Task):
    name = "images.resize"

    class Args(BaseModel):
        width: int

    def execute(self, args: Resize.Args) -> int:
        return args.width


def on_billing(ctx: Any) -> str:
    return "billing"


def on_anything(ctx: Any) -> str:
    return "anything"


def test_an_empty_registry_knows_nothing() -> None:
    registry = Registry()

    assert registry.get("math.add") is None
    assert registry.handler_for("math.add") is None
    assert "math.add" not in registry
    assert (len(registry), registry.names, registry.handler_patterns) == (0, (), ())


def test_added_tasks_can_be_found_by_name() -> None:
    # Given a registry with a function task and a Task class
    registry = Registry([add, Resize])

    # Then each is found under its name, and nothing else is
    assert registry.get("math.add") is add.definition
    assert registry.get("images.resize").qualname == "Resize"  # type: ignore[union-attr]
    assert registry.get("math.sub") is None
    assert registry.names == ("math.add", "images.resize")
    assert "math.add" in registry
    assert "math.sub" not in registry
    assert len(registry) == 2


def test_add_returns_the_registered_definition() -> None:
    assert Registry().add(add) is add.definition


def test_a_plain_function_can_be_registered_under_its_own_name() -> None:
    def shout(text: str) -> str:
        return text.upper()

    registry = Registry([shout])

    assert registry.get("shout").call("hi") == "HI"  # type: ignore[union-attr]


def test_registering_the_same_task_twice_is_fine() -> None:
    registry = Registry([add, Resize])

    registry.add(add)
    registry.add(Resize)
    registry.add(Resize())

    assert len(registry) == 2


def test_two_different_tasks_with_the_same_name_are_a_configuration_error() -> None:
    # Given a task registered as "math.add"
    registry = Registry([add])

    @task(name="math.add")
    def other_add(a: int, b: int) -> int:
        return a + b + 1

    # When a different function claims the same name, Then registration fails naming both
    with pytest.raises(ConfigurationError) as info:
        registry.add(other_add)

    message = str(info.value)
    assert message.startswith("two different tasks are named 'math.add': ")
    assert f"{__name__}.add" in message
    assert "other_add" in message
    assert registry.get("math.add") is add.definition


def test_a_task_class_and_a_function_with_the_same_name_are_a_configuration_error() -> None:
    registry = Registry([Resize])

    with pytest.raises(ConfigurationError, match=re.escape("two different tasks are named 'images.resize'")):
        registry.add(task(name="images.resize")(add.fn))


def test_same_named_functions_from_different_modules_are_a_configuration_error() -> None:
    def process() -> str:
        return "billing"
    process.__module__ = "billing.tasks"
    billing_process = task(process)

    def process() -> str:  # type: ignore[no-redef]
        return "shipping"
    process.__module__ = "shipping.tasks"
    shipping_process = task(process)

    registry = Registry([billing_process])
    with pytest.raises(ConfigurationError, match="two different tasks are named 'process'"):
        registry.add(shipping_process)


def test_a_definition_can_be_registered_directly() -> None:
    definition = TaskDefinition(name="raw.task", call=print, validate=lambda a, k: (a, k), is_async=False)

    assert Registry([definition]).get("raw.task") is definition


def test_anything_else_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a task"):
        Registry().add(42)  # type: ignore[arg-type]


# --- handlers -------------------------------------------------------------------------------------


def test_the_first_registered_handler_that_matches_wins() -> None:
    # Given a specific handler registered before a catch-all
    registry = Registry()
    registry.add_handler("billing.*", on_billing)
    registry.add_handler("*", on_anything)

    # Then billing tasks go to the specific one, and everything else to the catch-all
    assert registry.handler_for("billing.charge").fn is on_billing  # type: ignore[union-attr]
    assert registry.handler_for("shipping.send").fn is on_anything  # type: ignore[union-attr]


def test_a_catch_all_registered_first_shadows_later_handlers() -> None:
    registry = Registry()
    registry.add_handler("*", on_anything)
    registry.add_handler("billing.*", on_billing)

    assert registry.handler_for("billing.charge").fn is on_anything  # type: ignore[union-attr]


def test_handlers_are_listed_in_registration_order_and_count_towards_len() -> None:
    registry = Registry([add])
    handler = registry.add_handler("billing.%", on_billing)
    registry.add_handler("math.?ul", on_anything)

    assert handler.pattern == Pattern("billing.%")
    assert registry.handler_patterns == (Pattern("billing.%"), Pattern("math.?ul"))
    assert len(registry) == 3


def test_a_name_covered_only_by_a_handler_is_in_the_registry() -> None:
    registry = Registry()
    registry.add_handler("billing.*", on_billing)

    assert "billing.refund" in registry
    assert "shipping.refund" not in registry
    assert registry.get("billing.refund") is None
    assert registry.handler_for("shipping.refund") is None


def test_an_invalid_handler_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="invalid pattern"):
        Registry().add_handler("billing .*", on_billing)


# --- add_module -----------------------------------------------------------------------------------


def test_add_module_registers_the_tasks_a_module_defines() -> None:
    # Given a module with two function tasks, a Task class, a plain function and a plain class
    registry = Registry()

    # When it is added
    found = registry.add_module("unit_tasks_fixture")

    # Then exactly the three tasks are registered
    assert found == 3
    assert sorted(registry.names) == ["double", "fixture.add", "fixture.thumbnail"]
    assert registry.get("double").is_async is True  # type: ignore[union-attr]
    assert registry.get("fixture.thumbnail").qualname == "Thumbnail"  # type: ignore[union-attr]


def test_add_module_skips_task_classes_imported_from_elsewhere() -> None:
    registry = Registry()

    registry.add_module("unit_tasks_fixture_reexport")

    assert "reexport.own" in registry.names
    assert "fixture.thumbnail" not in registry.names


def test_add_module_registers_task_functions_re_exported_by_the_module() -> None:
    # A package may gather its tasks in __init__ by importing them from submodules.
    registry = Registry()

    found = registry.add_module("unit_tasks_fixture_reexport")

    # the imported function task counts, the imported Task class (maybe a base class) does not
    assert found == 2 and set(registry.names) == {"reexport.own", "fixture.add"}


def test_adding_the_same_module_twice_is_fine() -> None:
    registry = Registry()

    registry.add_module("unit_tasks_fixture")
    registry.add_module("unit_tasks_fixture")

    assert len(registry) == 3


def test_a_module_that_cannot_be_imported_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError,
                       match=re.escape("cannot import task module 'unit_tasks_fixture_that_does_not_exist'")):
        Registry().add_module("unit_tasks_fixture_that_does_not_exist")
