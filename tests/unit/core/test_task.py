"""Task definitions: the `@task` decorator, argument validation, `Task` classes and `definition_of`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from treadle.core.retry import DEFAULT_POLICY, ExponentialBackoff, FixedBackoff, RetryPolicy
from treadle.core.routing import Pattern
from treadle.core.task import (
    FunctionTask,
    Task,
    TaskDefinition,
    class_definition,
    definition_of,
    function_definition,
    handler_definition,
    signature_validator,
    task,
)
from treadle.errors import ConfigurationError, TaskValidationError

# Models and tasks live at module level: with `from __future__ import annotations` the hints are
# strings, resolved against the module's globals.


class Address(BaseModel):
    street: str
    zip_code: str


@task
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@task(name="math.mul", timeout=5, priority=3, retry=RetryPolicy(max_attempts=7))
def mul(a: int, b: int) -> int:
    return a * b


@task
async def double(x: int) -> int:
    return 2 * x


def ship(to: Address, weight: float, *, express: bool = False) -> str:
    return f"{to.street} {weight} {express}"


def pos_only(a: int, /, b: int) -> tuple[int, int]:
    return a, b


def total(*numbers: int) -> int:
    return sum(numbers)


def labels(**tags: str) -> dict[str, str]:
    return tags


def scale(factor: int, *values: int) -> list[int]:
    return [factor * v for v in values]


def export(json: str, copy: int = 1, model_fields: str = "m", dict: int = 0) -> str:
    return f"{json} {copy} {model_fields} {dict}"


def half_typed(count: int, thing: NotDefinedAnywhere) -> int:  # type: ignore[name-defined]  # noqa: F821
    return count


def untyped(a, b=1):  # type: ignore[no-untyped-def]
    return (a, b)


def plain(count: int, ratio: float, label: str, flag: bool, anything: Any) -> tuple[Any, ...]:
    return count, ratio, label, flag, anything


def deliver(parcel: Parcel) -> str:       # names a class defined below it
    return parcel.label


class Parcel(BaseModel):
    label: str


class Resize(Task):
    class Args(BaseModel):
        path: str
        width: int
        height: int = 100

    def execute(self, args: Resize.Args) -> str:
        return f"{args.path} {args.width}x{args.height}"


class Thumbnail(Task):
    name = "images.thumbnail"
    retry = RetryPolicy(max_attempts=5, backoff=FixedBackoff(2))
    timeout = 30.0
    priority = 7

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str

    async def execute(self, args: Thumbnail.Args) -> str:
        return args.path


class NoArgs(Task):
    def execute(self, args: Task.Args) -> str:
        return "done"


def validate(fn: Any, *args: Any, **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    return definition_of(fn).validate(list(args), kwargs)


def invalid(fn: Any, *args: Any, **kwargs: Any) -> TaskValidationError:
    with pytest.raises(TaskValidationError) as info:
        definition_of(fn).validate(list(args), kwargs)
    return info.value


# --- @task ----------------------------------------------------------------------------------------


def test_bare_task_uses_the_function_name_and_default_options() -> None:
    d = add.definition

    assert isinstance(add, FunctionTask)
    assert (d.name, d.retry, d.timeout_seconds, d.priority, d.is_async) == ("add", DEFAULT_POLICY, None, 0, False)
    assert add.name == "add"


def test_task_with_options_records_them() -> None:
    d = mul.definition

    assert (d.name, d.retry, d.timeout_seconds, d.priority) == ("math.mul", RetryPolicy(max_attempts=7), 5, 3)


def test_a_decorated_function_is_still_callable_as_a_plain_function() -> None:
    assert add(1, 2) == 3
    assert add(1) == 3
    assert mul(a=3, b=4) == 12


async def test_a_decorated_async_function_is_still_awaitable() -> None:
    assert double.definition.is_async is True
    assert await double(21) == 42


def test_a_decorated_function_keeps_its_identity() -> None:
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert add.__module__ == __name__
    assert add.__wrapped__ is add.fn
    assert repr(add) == "<task add>"
    assert add.definition.module == __name__
    assert add.definition.qualname == "add"


def test_the_definition_calls_the_original_function() -> None:
    args, kwargs = add.definition.validate([4, 5], {})

    assert add.definition.call(*args, **kwargs) == 9


def test_retries_shortcut_builds_a_fixed_backoff_policy() -> None:
    # Given the retries=/retry_sleep_time= shortcut
    @task(retries=2, retry_sleep_time=0.5)
    def flaky() -> None: ...

    # Then it means retries + 1 attempts, a fixed delay apart
    assert flaky.definition.retry == RetryPolicy(max_attempts=3, backoff=FixedBackoff(0.5))


def test_retries_alone_retries_without_waiting() -> None:
    @task(retries=4)
    def flaky() -> None: ...

    assert flaky.definition.retry == RetryPolicy(max_attempts=5, backoff=FixedBackoff(0.0))


@pytest.mark.parametrize("shortcut", [{"retries": 2}, {"retry_sleep_time": 1.0}, {"retries": 0}])
def test_retry_together_with_the_shortcut_is_a_configuration_error(shortcut: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=re.escape("give either retry= or retries=/retry_sleep_time=")):
        @task(retry=RetryPolicy(), **shortcut)
        def flaky() -> None: ...


def test_negative_retries_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="retries must be >= 0"):
        @task(retries=-1)
        def flaky() -> None: ...


@pytest.mark.parametrize("timeout", [0, -1, -0.5, float("nan")])
def test_a_timeout_that_is_not_positive_is_a_configuration_error(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"timeout must be > 0 seconds, got {timeout!r}")):
        @task(timeout=timeout)
        def slow() -> None: ...


def test_a_priority_that_is_not_an_integer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("priority must be an integer, got 'high'")):
        @task(priority="high")  # type: ignore[call-overload]
        def urgent() -> None: ...


@pytest.mark.parametrize("name", ["send email", "math.*", "a" * 201])
def test_an_invalid_task_name_is_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid task name"):
        @task(name=name)
        def job() -> None: ...


def test_something_not_callable_cannot_be_a_task() -> None:
    with pytest.raises(ConfigurationError, match="a task must be callable, got 42"):
        function_definition(42)  # type: ignore[arg-type]


def test_defining_a_task_with_parameters_named_like_model_attributes_emits_no_warning() -> None:
    # pytest turns warnings into errors here, so Pydantic's "shadows an attribute" warning would fail this.
    definition = function_definition(export)

    assert definition.validate(["j", "2"], {"model_fields": "z"}) == ([], {"json": "j", "copy": 2,
                                                                           "model_fields": "z"})


# --- argument validation for functions ------------------------------------------------------------


def test_arguments_may_be_given_by_position_or_keyword() -> None:
    assert validate(add, 1, 2) == ([], {"a": 1, "b": 2})
    assert validate(add, b=2, a=1) == ([], {"a": 1, "b": 2})
    assert validate(add, 1, b=5) == ([], {"a": 1, "b": 5})


def test_omitted_defaults_are_left_to_the_function() -> None:
    args, kwargs = validate(add, 1)

    assert (args, kwargs) == ([], {"a": 1})
    assert add.definition.call(*args, **kwargs) == 3


def test_lax_mode_coerces_compatible_values() -> None:
    assert validate(add, "3", b="4") == ([], {"a": 3, "b": 4})
    assert validate(add, "3", "4") == ([], {"a": 3, "b": 4})     # positional values are converted too
    assert validate(ship, {"street": "Main", "zip_code": "1"}, "2.5") == (
        [], {"to": Address(street="Main", zip_code="1"), "weight": 2.5})


def test_pydantic_model_parameters_are_built_from_dicts() -> None:
    args, kwargs = validate(ship, {"street": "Main", "zip_code": "75001"}, 1, express="true")

    assert isinstance(kwargs["to"], Address)
    assert ship(*args, **kwargs) == "Main 1.0 True"


def test_untyped_parameters_accept_anything() -> None:
    marker = object()

    assert validate(untyped, marker) == ([], {"a": marker})


def test_a_value_of_the_wrong_type_is_a_non_retryable_validation_error() -> None:
    error = invalid(add, "three")

    assert error.error_code == "INVALID_ARGUMENTS"
    assert error.retryable is False
    assert str(error).startswith("invalid arguments for task add: a: Input should be a valid integer")


def test_a_bad_nested_model_field_is_reported_with_its_path() -> None:
    error = invalid(ship, {"street": "Main"}, 1)

    assert "to.zip_code: Field required" in str(error)


@pytest.mark.parametrize(("args", "kwargs", "problem"), [
    ([], {}, "missing a required argument: 'a'"),
    ([1, 2, 3], {}, "too many positional arguments"),
    ([1], {"c": 3}, "got an unexpected keyword argument 'c'"),
    ([1], {"a": 1}, "multiple values for argument 'a'"),
])
def test_arguments_that_do_not_bind_are_a_validation_error(args: list[Any], kwargs: dict[str, Any],
                                                           problem: str) -> None:
    error = invalid(add, *args, **kwargs)

    assert error.error_code == "INVALID_ARGUMENTS"
    assert error.retryable is False
    assert str(error) == f"invalid arguments for task add: {problem}"


def test_positional_only_parameters_stay_positional() -> None:
    args, kwargs = validate(pos_only, "1", "2")

    assert (args, kwargs) == ([1], {"b": 2})
    assert pos_only(*args, **kwargs) == (1, 2)


def test_positional_only_parameters_cannot_be_given_by_keyword() -> None:
    assert "positional" in str(invalid(pos_only, a=1, b=2))


def test_keyword_only_parameters_are_validated() -> None:
    assert validate(ship, {"street": "s", "zip_code": "z"}, 1, express=1)[1]["express"] is True
    assert "positional" in str(invalid(ship, {"street": "s", "zip_code": "z"}, 1, True))


def test_var_positional_arguments_are_validated_element_by_element() -> None:
    assert validate(total, "1", 2, "3") == ([1, 2, 3], {})
    assert "numbers.1: Input should be a valid integer" in str(invalid(total, 1, "x"))


def test_var_keyword_arguments_are_validated_value_by_value() -> None:
    assert validate(labels, env="prod", tier="1") == ([], {"env": "prod", "tier": "1"})
    assert "tags.tier: Input should be a valid string" in str(invalid(labels, env="prod", tier=1))


@pytest.mark.parametrize("fn", [total, labels], ids=["var-positional", "var-keyword"])
def test_empty_var_positional_and_var_keyword_arguments_are_valid(fn: Any) -> None:
    args, kwargs = validate(fn)

    assert (args, kwargs) == ([], {})


def test_a_parameter_before_var_positional_arguments_stays_positional() -> None:
    args, kwargs = validate(scale, "2", 3, 4)

    assert scale(*args, **kwargs) == [6, 8]


def test_an_unresolvable_annotation_only_disables_validation_of_that_parameter() -> None:
    _, kwargs = validate(half_typed, "3", object())

    assert kwargs["count"] == 3


def test_arguments_of_exactly_their_plain_type_pass_unchanged() -> None:
    thing = object()
    big = 2**80

    _, kwargs = validate(plain, big, 1.5, "x", False, thing)

    assert kwargs == {"count": big, "ratio": 1.5, "label": "x", "flag": False, "anything": thing}
    assert kwargs["anything"] is thing


@pytest.mark.parametrize(("args", "expected"), [
    ([True, 1, "x", 1, None], (1, 1.0, "x", True, None)),        # a bool for an int, ints for float and bool
    (["7", "2.5", "x", "yes", None], (7, 2.5, "x", True, None)),
])
def test_arguments_of_another_type_are_still_converted_as_pydantic_does(args: list[Any],
                                                                          expected: tuple[Any, ...]) -> None:
    _, kwargs = validate(plain, *args)

    assert tuple(kwargs.values()) == expected
    assert [type(v) for v in kwargs.values()] == [type(v) for v in expected]


def test_a_plain_parameter_given_a_value_pydantic_refuses_is_still_refused() -> None:
    assert "label: Input should be a valid string" in str(invalid(plain, 1, 1.0, 5, True, None))


def test_an_annotation_may_name_a_class_defined_after_the_task() -> None:
    _, kwargs = validate(deliver, {"label": "box"})

    assert kwargs == {"parcel": Parcel(label="box")}


def test_the_same_validator_can_be_built_for_any_function() -> None:
    check = signature_validator(add.fn, "custom.name")

    with pytest.raises(TaskValidationError, match=re.escape("invalid arguments for task custom.name")):
        check([], {})


# --- Task classes ---------------------------------------------------------------------------------


def test_a_task_class_defaults_its_name_to_the_class_name() -> None:
    d = definition_of(Resize)

    assert d.name == "Resize" == Resize.task_name()
    assert (d.retry, d.timeout_seconds, d.priority, d.is_async) == (DEFAULT_POLICY, None, 0, False)
    assert (d.module, d.qualname) == (__name__, "Resize")


def test_task_class_attributes_set_the_options() -> None:
    d = definition_of(Thumbnail)

    assert d.name == "images.thumbnail"
    assert d.retry == RetryPolicy(max_attempts=5, backoff=FixedBackoff(2))
    assert (d.timeout_seconds, d.priority, d.is_async) == (30.0, 7, True)


def test_task_class_arguments_become_an_args_instance() -> None:
    assert validate(Resize, path="a.png", width="20") == ([Resize.Args(path="a.png", width=20, height=100)], {})


def test_task_class_positional_arguments_map_to_fields_in_order() -> None:
    assert validate(Resize, "a.png", 20, 30) == ([Resize.Args(path="a.png", width=20, height=30)], {})
    assert validate(Resize, "a.png", height=5, width=6) == ([Resize.Args(path="a.png", width=6, height=5)], {})


def test_too_many_positional_arguments_for_a_task_class_is_a_validation_error() -> None:
    error = invalid(Resize, "a.png", 1, 2, 3)

    assert str(error) == "invalid arguments for task Resize: 4 positional arguments given, Args has 3 fields"
    assert (error.error_code, error.retryable) == ("INVALID_ARGUMENTS", False)


@pytest.mark.parametrize(("args", "kwargs", "problem"), [
    (["a.png"], {}, "width: Field required"),
    (["a.png", "wide"], {}, "width: Input should be a valid integer"),
    ([], {"path": 3, "width": 1}, "path: Input should be a valid string"),
])
def test_task_class_arguments_that_do_not_fit_args_are_a_validation_error(args: list[Any], kwargs: dict[str, Any],
                                                                         problem: str) -> None:
    error = invalid(Resize, *args, **kwargs)

    assert str(error).startswith(f"invalid arguments for task Resize: {problem}")
    assert (error.error_code, error.retryable) == ("INVALID_ARGUMENTS", False)


def test_an_args_model_that_forbids_extras_rejects_unknown_arguments() -> None:
    assert "unexpected argument(s) typo" in str(invalid(Thumbnail, path="x", typo=1))


def test_a_task_class_without_args_takes_no_arguments() -> None:
    args, kwargs = validate(NoArgs)

    assert definition_of(NoArgs).call(*args, **kwargs) == "done"
    assert "1 positional arguments given, Args has 0 fields" in str(invalid(NoArgs, 1))


def test_the_task_class_definition_calls_execute_on_an_instance() -> None:
    d = definition_of(Resize)
    args, kwargs = d.validate(["a.png", 4], {})

    assert d.call(*args, **kwargs) == "a.png 4x100"


def test_a_task_class_that_does_not_implement_execute_fails_validation_when_run() -> None:
    class Lazy(Task):
        pass

    d = definition_of(Lazy)
    args, kwargs = d.validate([], {})
    with pytest.raises(TaskValidationError, match="Lazy does not implement execute"):
        d.call(*args, **kwargs)


@pytest.mark.parametrize(("attrs", "message"), [
    ({"name": "bad name"}, "invalid task name 'bad name'"),
    ({"timeout": 0}, "timeout must be > 0 seconds, got 0"),
    ({"priority": 1.5}, "priority must be an integer, got 1.5"),
])
def test_invalid_task_class_attributes_are_a_configuration_error(attrs: dict[str, Any], message: str) -> None:
    broken = type("Broken", (Task,), attrs)

    with pytest.raises(ConfigurationError, match=re.escape(message)):
        definition_of(broken)


def test_task_definition_classmethod_matches_definition_of() -> None:
    assert Thumbnail.definition().name == definition_of(Thumbnail).name == "images.thumbnail"


# --- definition_of --------------------------------------------------------------------------------


def test_definition_of_a_function_task_is_its_definition() -> None:
    assert definition_of(add) is add.definition


def test_definition_of_a_definition_is_itself() -> None:
    d = TaskDefinition(name="x", call=print, validate=lambda a, k: (a, k), is_async=False)

    assert definition_of(d) is d


def test_definition_of_a_task_instance_uses_that_instance() -> None:
    instance = Resize()

    d = definition_of(instance)

    assert d.name == "Resize"
    assert d.call.__self__ is instance  # type: ignore[attr-defined]
    assert class_definition(instance).name == "Resize"


def test_definition_of_a_plain_function_defines_it_on_the_fly() -> None:
    d = definition_of(ship)

    assert (d.name, d.call, d.is_async, d.retry) == ("ship", ship, False, DEFAULT_POLICY)


async def test_definition_of_a_plain_async_function_is_async() -> None:
    async def fetch(url: str) -> str:
        return url

    assert definition_of(fetch).is_async is True


@pytest.mark.parametrize("obj", [42, "add", None, ExponentialBackoff()])
def test_definition_of_something_that_is_not_a_task_is_a_configuration_error(obj: Any) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"not a task: {obj!r}")):
        definition_of(obj)


# --- handlers -------------------------------------------------------------------------------------


def test_a_handler_definition_parses_its_pattern() -> None:
    async def handle(ctx: Any) -> None: ...

    h = handler_definition("billing.*", handle)

    assert (h.pattern, h.fn, h.is_async) == (Pattern("billing.*"), handle, True)


def test_a_handler_must_be_callable_and_have_a_valid_pattern() -> None:
    with pytest.raises(ConfigurationError, match="a handler must be callable"):
        handler_definition("*", 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="invalid pattern"):
        handler_definition("not valid", print)
