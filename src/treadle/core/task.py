"""Task definitions: the `@task` decorator, the `Task` base class and handler definitions.

A definition knows how to validate arguments and how to call the user's code; it knows
nothing about storage or workers. The same definition validates at submit time (when the
client knows the task) and again in the worker before every attempt.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, TypeVar, overload

from ..errors import ConfigurationError, TaskValidationError
from .retry import DEFAULT_POLICY, RetryPolicy
from .routing import Pattern, validate_name

if TYPE_CHECKING:
    import pydantic
    from pydantic import BaseModel

P = ParamSpec("P")
R = TypeVar("R")

Validator = Callable[[list[Any], dict[str, Any]], tuple[list[Any], dict[str, Any]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDefinition:
    """Everything treadle needs to submit and run one named task."""

    name: str
    call: Callable[..., Any]
    validate: Validator
    is_async: bool
    retry: RetryPolicy = DEFAULT_POLICY
    timeout_seconds: float | None = None
    priority: int = 0
    module: str | None = None
    qualname: str | None = None
    runner: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerDefinition:
    """A handler for every task whose name matches `pattern`; it receives the task context."""

    pattern: Pattern
    fn: Callable[[Any], Any]
    is_async: bool


RUNNER_NAMES = ("process", "thread", "asyncio", "sequential", "dask")


def _check_options(timeout: float | None, priority: int, runner: Any = None) -> None:
    if timeout is not None and not timeout > 0:
        raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout!r}")
    if not isinstance(priority, int):
        raise ConfigurationError(f"priority must be an integer, got {priority!r}")
    if runner is not None and runner not in RUNNER_NAMES and not callable(getattr(runner, "start", None)):
        raise ConfigurationError(f"runner must be one of {', '.join(RUNNER_NAMES)} or a runner object "
                                 f"(such as treadle.ProcessRunner('spawn')), got {runner!r}")


def _policy(retry: RetryPolicy | None, retries: int | None, retry_sleep_time: float | None) -> RetryPolicy:
    if retry is not None and (retries is not None or retry_sleep_time is not None):
        raise ConfigurationError("give either retry= or retries=/retry_sleep_time=, not both")
    if retry is not None:
        return retry
    if retries is not None or retry_sleep_time is not None:
        return RetryPolicy.simple(retries or 0, retry_sleep_time or 0.0)
    return DEFAULT_POLICY


def _validation_error(name: str, exc: pydantic.ValidationError) -> TaskValidationError:
    problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors())
    return TaskValidationError(f"invalid arguments for task {name}: {problems}", error_code="INVALID_ARGUMENTS")


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; a parameter whose annotation cannot be resolved is validated as Any."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # one bad forward reference: resolve the others one by one
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(fn, "__globals__", {})
    for pname, ann in inspect.get_annotations(fn).items():
        try:
            # the same evaluation typing.get_type_hints does, one annotation at a time
            hints[pname] = eval(ann, namespace) if isinstance(ann, str) else ann
        except Exception:
            hints[pname] = Any
    return hints


def _signature_model(hints: dict[str, Any], sig: inspect.Signature, name: str) -> type[BaseModel]:
    import pydantic

    fields: dict[str, Any] = {}
    for i, (pname, param) in enumerate(sig.parameters.items()):
        ann = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        if param.kind is param.VAR_POSITIONAL:
            ann, default = tuple[ann, ...], ()  # type: ignore[valid-type]
        elif param.kind is param.VAR_KEYWORD:
            ann, default = dict[str, ann], {}  # type: ignore[valid-type]
        fields[f"p{i}"] = (ann, pydantic.Field(default, alias=pname))
    model: type[BaseModel] = pydantic.create_model(
        f"{name}.args", __config__=pydantic.ConfigDict(arbitrary_types_allowed=True), **fields)
    return model


def _rebuild(sig: inspect.Signature, bound: inspect.BoundArguments,
             value_of: Callable[[int, str], Any]) -> tuple[list[Any], dict[str, Any]]:
    # Parameters before a *args must be passed positionally, or the call would bind them twice.
    has_var_positional = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
    out_args: list[Any] = []
    out_kwargs: dict[str, Any] = {}
    for i, (pname, param) in enumerate(sig.parameters.items()):
        if pname not in bound.arguments:
            continue
        value = value_of(i, pname)
        if param.kind is param.VAR_POSITIONAL:
            out_args.extend(value)
        elif param.kind is param.VAR_KEYWORD:
            out_kwargs.update(value)
        elif param.kind is param.POSITIONAL_ONLY or (
                param.kind is param.POSITIONAL_OR_KEYWORD and has_var_positional):
            out_args.append(value)
        else:
            out_kwargs[pname] = value
    return out_args, out_kwargs


# Annotations whose values Pydantic returns unchanged when they already have exactly that type.
_PLAIN_TYPES: frozenset[Any] = frozenset({int, float, str, bool})


def _plain_check(ann: Any) -> Callable[[Any], bool] | None:
    """A check that a value needs no conversion for `ann`, or None when only Pydantic can tell."""
    if ann is Any:
        return lambda value: True
    if ann in _PLAIN_TYPES:
        return lambda value: type(value) is ann
    return None


class _SignatureValidator:
    """Binds arguments to a signature and checks them with Pydantic.

    The model is built at the first call that needs it, not when the task is defined: a worker
    starts without importing Pydantic, and arguments that already have exactly their annotated
    plain type (int, float, str, bool, or Any) pass without it, as Pydantic would return them
    unchanged. Resolving the annotations late also lets them name classes defined after the task.
    """

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        self.sig = inspect.signature(fn)
        self._checks: dict[str, Callable[[Any], bool] | None] | None = None
        self._hints: dict[str, Any] = {}
        self._model: type[BaseModel] | None = None
        # The common call, `f(a, b)` of plain values, needs no binding (`inspect` is slow per call):
        # the parameter names and checks in order, and how many have no default; None when some
        # parameter is not plain (keyword-only, *args, or an annotation only Pydantic can check).
        # A check is the exact type a value must have, or None for `Any`.
        self._positional: tuple[list[str], list[type | None], int] | None = None

    def _plan(self) -> dict[str, Callable[[Any], bool] | None]:
        if self._checks is None:
            self._hints = _hints(self.fn)
            self._checks = {pname: _plain_check(self._hints.get(pname, Any)) for pname in self.sig.parameters}
            params = list(self.sig.parameters.values())
            annotations = [self._hints.get(p.name, Any) for p in params]
            if (all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
                    and all(a is Any or a in _PLAIN_TYPES for a in annotations)):
                required = sum(p.default is p.empty for p in params)
                types = [None if a is Any else a for a in annotations]
                self._positional = ([p.name for p in params], types, required)
        return self._checks

    def _is_plain(self, bound: inspect.BoundArguments) -> bool:
        checks = self._plan()
        for pname, value in bound.arguments.items():
            check = checks[pname]
            if check is None:
                return False
            kind = self.sig.parameters[pname].kind
            values = value if kind is inspect.Parameter.VAR_POSITIONAL else (
                value.values() if kind is inspect.Parameter.VAR_KEYWORD else (value,))
            if not all(check(v) for v in values):
                return False
        return True

    def __call__(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        self._plan()
        if not kwargs and self._positional is not None:
            names, types, required = self._positional
            if required <= len(args) <= len(types):
                for expected, value in zip(types, args, strict=False):
                    if expected is not None and type(value) is not expected:
                        break
                else:
                    return [], dict(zip(names, args, strict=False))     # what binding and `_rebuild` would give
        try:
            bound = self.sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TaskValidationError(f"invalid arguments for task {self.name}: {exc}",
                                      error_code="INVALID_ARGUMENTS") from None
        if self._is_plain(bound):
            return _rebuild(self.sig, bound, lambda i, pname: bound.arguments[pname])
        import pydantic

        if self._model is None:
            self._model = _signature_model(self._hints, self.sig, self.name)
        try:
            values = self._model.model_validate(bound.arguments)
        except pydantic.ValidationError as exc:
            raise _validation_error(self.name, exc) from None
        return _rebuild(self.sig, bound, lambda i, pname: getattr(values, f"p{i}"))


def signature_validator(fn: Callable[..., Any], name: str) -> Validator:
    """Build a validator that binds arguments to `fn`'s signature and checks them with Pydantic."""
    return _SignatureValidator(fn, name)


class FunctionTask(Generic[P, R]):
    """A function decorated with `@task`: still callable as the plain function, and submittable by treadle."""

    def __init__(self, fn: Callable[P, R], definition: TaskDefinition) -> None:
        self.fn = fn
        self.definition = definition
        self.__name__ = getattr(fn, "__name__", definition.name)
        self.__qualname__ = getattr(fn, "__qualname__", definition.name)
        self.__module__ = getattr(fn, "__module__", __name__)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @property
    def name(self) -> str:
        """The task name used for routing."""
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.definition.name}>"


def function_definition(fn: Callable[..., Any], *, name: str | None = None, retry: RetryPolicy | None = None,
                        retries: int | None = None, retry_sleep_time: float | None = None,
                        timeout: float | None = None, priority: int = 0, runner: Any = None) -> TaskDefinition:
    """The definition of a plain function as a task."""
    if not callable(fn):
        raise ConfigurationError(f"a task must be callable, got {fn!r}")
    task_name = validate_name(name if name is not None else str(getattr(fn, "__name__", "")))
    _check_options(timeout, priority, runner)
    return TaskDefinition(name=task_name, call=fn, validate=signature_validator(fn, task_name),
                          is_async=inspect.iscoroutinefunction(fn),
                          retry=_policy(retry, retries, retry_sleep_time), timeout_seconds=timeout,
                          priority=priority, module=getattr(fn, "__module__", None),
                          qualname=getattr(fn, "__qualname__", None), runner=runner)


@overload
def task(fn: Callable[P, R], /) -> FunctionTask[P, R]: ...


@overload
def task(*, name: str | None = None, retry: RetryPolicy | None = None, retries: int | None = None,
         retry_sleep_time: float | None = None, timeout: float | None = None,
         priority: int = 0, runner: Any = None) -> Callable[[Callable[P, R]], FunctionTask[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, *, name: str | None = None, retry: RetryPolicy | None = None,
         retries: int | None = None, retry_sleep_time: float | None = None, timeout: float | None = None,
         priority: int = 0, runner: Any = None) -> FunctionTask[P, R] | Callable[[Callable[P, R]], FunctionTask[P, R]]:
    """Turn a sync or async function into a task; use bare (`@task`) or with options.

    `name` is the dotted routing name (default: the function's name); `retry` a `RetryPolicy`,
    or the shortcut `retries=` (extra attempts) with `retry_sleep_time=` (seconds between them);
    `timeout` bounds each attempt in seconds; `priority` orders pending work (higher first);
    `runner` is where `treadle.start_local` runs it with no storage: "process" (the default),
    "thread", "asyncio", "sequential", "dask", or a runner object such as `ProcessRunner("spawn")`.
    """

    def wrap(f: Callable[P, R]) -> FunctionTask[P, R]:
        definition = function_definition(f, name=name, retry=retry, retries=retries,
                                         retry_sleep_time=retry_sleep_time, timeout=timeout, priority=priority,
                                         runner=runner)
        return FunctionTask(f, definition)

    return wrap(fn) if fn is not None else wrap


class _NoArgs:
    """`Task.Args` of a class that declares none: an empty Pydantic model, made when first asked for."""

    model: Any = None

    def __get__(self, instance: object, owner: type) -> type[BaseModel]:
        if _NoArgs.model is None:
            import pydantic

            _NoArgs.model = pydantic.create_model("Args", __doc__="No arguments.")
        return typing.cast("type[BaseModel]", _NoArgs.model)


class Task:
    """Base class for tasks with a Pydantic `Args` model: subclass it and implement `execute(self, args)`.

    Class attributes set the options: `name` (default: the class name), `retry`, `timeout`,
    `priority`, `runner` (for `treadle.start_local`). `execute` may be sync or async. Arguments
    are validated against `Args`.
    """

    name: ClassVar[str | None] = None
    retry: ClassVar[RetryPolicy | None] = None
    timeout: ClassVar[float | None] = None
    priority: ClassVar[int] = 0
    runner: ClassVar[Any] = None

    if TYPE_CHECKING:
        Args: ClassVar[type[BaseModel]]
    else:
        Args = _NoArgs()

    def execute(self, args: Any) -> Any:
        """Run one attempt with validated `args` (an instance of `Args`)."""
        raise TaskValidationError(f"{type(self).__name__} does not implement execute()")

    @classmethod
    def task_name(cls) -> str:
        """The routing name of this task class."""
        return cls.name or cls.__name__

    @classmethod
    def definition(cls) -> TaskDefinition:
        """The definition treadle submits and runs."""
        return class_definition(cls())


def class_definition(instance: Task) -> TaskDefinition:
    """The definition of a `Task` instance."""
    import pydantic  # a Task's Args is a Pydantic model, so Pydantic is loaded already

    cls = type(instance)
    task_name = validate_name(cls.task_name())
    _check_options(cls.timeout, cls.priority, cls.runner)
    args_model: type[BaseModel] = cls.Args
    field_names = list(args_model.model_fields)

    known = set(field_names) | {f.alias for f in args_model.model_fields.values() if f.alias}
    allow_extra = args_model.model_config.get("extra") == "allow"

    def refuse(problem: str) -> TaskValidationError:
        return TaskValidationError(f"invalid arguments for task {task_name}: {problem}", error_code="INVALID_ARGUMENTS")

    def validate(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if len(args) > len(field_names):
            raise refuse(f"{len(args)} positional arguments given, Args has {len(field_names)} fields")
        positional = dict(zip(field_names, args, strict=False))
        twice = sorted(set(positional) & set(kwargs))
        if twice:
            raise refuse(f"multiple values for {', '.join(twice)}")
        unknown = sorted(set(kwargs) - known)
        if unknown and not allow_extra:
            raise refuse(f"unexpected argument(s) {', '.join(unknown)}")
        data = positional | kwargs
        try:
            return [args_model.model_validate(data)], {}
        except pydantic.ValidationError as exc:
            raise _validation_error(task_name, exc) from None

    return TaskDefinition(name=task_name, call=instance.execute, validate=validate,
                          is_async=inspect.iscoroutinefunction(instance.execute), retry=cls.retry or DEFAULT_POLICY,
                          timeout_seconds=cls.timeout, priority=cls.priority, module=cls.__module__,
                          qualname=cls.__qualname__, runner=cls.runner)


TaskLike = FunctionTask[Any, Any] | Task | type[Task] | TaskDefinition | Callable[..., Any]


def definition_of(obj: TaskLike) -> TaskDefinition:
    """The definition behind anything that can be registered or submitted as a task."""
    if isinstance(obj, TaskDefinition):
        return obj
    if isinstance(obj, FunctionTask):
        return obj.definition
    if isinstance(obj, Task):
        return class_definition(obj)
    if isinstance(obj, type) and issubclass(obj, Task):
        return class_definition(obj())
    if callable(obj):
        return function_definition(obj)
    raise ConfigurationError(f"not a task: {obj!r}")


def handler_definition(pattern: str, fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]) -> HandlerDefinition:
    """The definition of a context-receiving handler for a name pattern."""
    if not callable(fn):
        raise ConfigurationError(f"a handler must be callable, got {fn!r}")
    return HandlerDefinition(pattern=Pattern(pattern), fn=fn, is_async=inspect.iscoroutinefunction(fn))
