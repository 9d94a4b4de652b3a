"""Retry policies and the pure decision of whether, and when, a failed attempt runs again.

The policy travels with the task (as JSON), so whichever worker runs the next attempt applies
the same rules. `decide` is the single place where "retry or give up" is computed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from .records import LEASE_EXPIRED, ErrorInfo

Jitter = bool | float


def _jitter_fraction(jitter: Jitter) -> float:
    if jitter is True:
        return 0.5
    if jitter is False:
        return 0.0
    if not isinstance(jitter, (int, float)) or not 0.0 <= float(jitter) <= 1.0:
        raise ConfigurationError(f"jitter must be a bool or a fraction in [0, 1], got {jitter!r}")
    return float(jitter)


def _check_non_negative(**values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value < math.inf):
            raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Delay `initial * multiplier ** (n - 1)` after the n-th failure, capped at `max_delay`.

    `jitter=True` spreads each delay uniformly over ±50 % (a float sets the fraction), so that
    tasks failing together do not retry together.
    """

    initial: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: Jitter = False

    def __post_init__(self) -> None:
        _check_non_negative(initial=self.initial, max_delay=self.max_delay)
        if not (isinstance(self.multiplier, (int, float)) and 1 <= self.multiplier < math.inf):
            raise ConfigurationError(f"multiplier must be a finite number >= 1, got {self.multiplier!r}")
        _jitter_fraction(self.jitter)

    def base_delay(self, failures: int) -> float:
        """The delay before jitter after `failures` failed attempts (>= 1)."""
        exponent = max(0, failures - 1)
        if self.initial <= 0 or self.multiplier == 1:
            return min(self.max_delay, float(self.initial))
        if exponent >= math.log(max(self.max_delay, self.initial) / self.initial, self.multiplier):
            return float(self.max_delay)   # computing the power could overflow long before this
        return min(self.max_delay, self.initial * self.multiplier ** exponent)


@dataclass(frozen=True, slots=True)
class LinearBackoff:
    """Delay `initial + increment * (n - 1)` after the n-th failure, capped at `max_delay`."""

    initial: float = 1.0
    increment: float = 1.0
    max_delay: float = 60.0
    jitter: Jitter = False

    def __post_init__(self) -> None:
        _check_non_negative(initial=self.initial, increment=self.increment, max_delay=self.max_delay)
        _jitter_fraction(self.jitter)

    def base_delay(self, failures: int) -> float:
        """The delay before jitter after `failures` failed attempts (>= 1)."""
        return min(self.max_delay, self.initial + self.increment * max(0, failures - 1))


@dataclass(frozen=True, slots=True)
class FixedBackoff:
    """The same delay after every failure."""

    delay: float = 1.0
    jitter: Jitter = False

    def __post_init__(self) -> None:
        _check_non_negative(delay=self.delay)
        _jitter_fraction(self.jitter)

    def base_delay(self, failures: int) -> float:
        """The delay before jitter (always `delay`)."""
        return self.delay


Backoff = ExponentialBackoff | LinearBackoff | FixedBackoff
_BACKOFF_KINDS: dict[str, type[Backoff]] = {
    "exponential": ExponentialBackoff, "linear": LinearBackoff, "fixed": FixedBackoff,
}


def exception_name(exc_type: type[BaseException]) -> str:
    """The name under which an exception class is matched by `retry_on` (`module.QualName`)."""
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


def _names(types: Iterable[type[BaseException] | str] | type[BaseException] | str) -> tuple[str, ...]:
    if isinstance(types, (str, type)):
        types = [types]
    out = []
    for t in types:
        if isinstance(t, str):
            out.append(t)
        elif isinstance(t, type) and issubclass(t, BaseException):
            out.append(exception_name(t))
        else:
            raise ConfigurationError(f"retry_on takes exception classes or their names, got {t!r}")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts a task gets and how long to wait between them.

    `max_attempts` counts every attempt, the first included (3 means up to 2 retries).
    `retry_on`, when given, limits retries to those exception classes (and subclasses);
    `stop_on_codes` gives up at once on a `TaskError` with one of those `error_code`s.
    A non-retryable error never retries. A worker that vanished (its lease expired) is
    always retried while attempts remain, whatever `retry_on` says.
    """

    max_attempts: int = 3
    backoff: Backoff = field(default_factory=ExponentialBackoff)
    retry_on: tuple[str, ...] = ()
    stop_on_codes: tuple[str, ...] = ()

    def __init__(
        self,
        max_attempts: int = 3,
        backoff: Backoff | None = None,
        retry_on: Iterable[type[BaseException] | str] | type[BaseException] | str = (),
        stop_on_codes: Iterable[str] | str = (),
    ) -> None:
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        if backoff is not None and not isinstance(backoff, (ExponentialBackoff, LinearBackoff, FixedBackoff)):
            raise ConfigurationError(
                f"backoff must be ExponentialBackoff, LinearBackoff or FixedBackoff, got {backoff!r}")
        if isinstance(stop_on_codes, str):
            stop_on_codes = [stop_on_codes]
        object.__setattr__(self, "max_attempts", max_attempts)
        object.__setattr__(self, "backoff", backoff if backoff is not None else ExponentialBackoff())
        object.__setattr__(self, "retry_on", _names(retry_on))
        object.__setattr__(self, "stop_on_codes", tuple(str(c) for c in stop_on_codes))

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A single attempt."""
        return cls(max_attempts=1)

    @classmethod
    def simple(cls, retries: int, sleep_seconds: float = 0.0) -> RetryPolicy:
        """`retries` extra attempts, `sleep_seconds` apart (the `retries=`/`retry_sleep_time=` shortcut)."""
        if retries < 0:
            raise ConfigurationError(f"retries must be >= 0, got {retries!r}")
        return cls(max_attempts=retries + 1, backoff=FixedBackoff(sleep_seconds))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with each task."""
        kind = next(k for k, v in _BACKOFF_KINDS.items() if isinstance(self.backoff, v))
        backoff = {f: getattr(self.backoff, f) for f in self.backoff.__dataclass_fields__}
        return {"max_attempts": self.max_attempts, "backoff": {"kind": kind, **backoff},
                "retry_on": list(self.retry_on), "stop_on_codes": list(self.stop_on_codes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """Rebuild a policy from `to_dict` output."""
        backoff_data = dict(data.get("backoff") or {"kind": "exponential"})
        kind = backoff_data.pop("kind", "exponential")
        if kind not in _BACKOFF_KINDS:
            raise ConfigurationError(f"unknown backoff kind {kind!r}")
        return cls(max_attempts=int(data.get("max_attempts", 3)),
                   backoff=_BACKOFF_KINDS[kind](**backoff_data),
                   retry_on=data.get("retry_on", ()), stop_on_codes=data.get("stop_on_codes", ()))


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to run another attempt, after how many seconds, and why."""

    retry: bool
    delay: float
    reason: str


def _matches_retry_on(policy: RetryPolicy, error: ErrorInfo) -> bool:
    if not policy.retry_on:
        return True
    candidates = set(error.exception_types) | {error.error_type}
    short = {name.rsplit(".", 1)[-1] for name in candidates}
    return any(name in candidates or name in short for name in policy.retry_on)


def _refusal(policy: RetryPolicy, attempt: int, error: ErrorInfo) -> str | None:
    if error.error_type == LEASE_EXPIRED:
        pass
    elif not error.retryable:
        return "the error is not retryable"
    elif error.error_code is not None and error.error_code in policy.stop_on_codes:
        return f"error code {error.error_code} is in stop_on_codes"
    elif not _matches_retry_on(policy, error):
        return f"{error.error_type} is not in retry_on"
    if attempt >= policy.max_attempts:
        return f"attempts exhausted ({attempt}/{policy.max_attempts})"
    return None


def decide(policy: RetryPolicy, attempt: int, error: ErrorInfo, rng: random.Random | None = None) -> RetryDecision:
    """Decide what follows failed attempt number `attempt` (1-based)."""
    refusal = _refusal(policy, attempt, error)
    if refusal is not None:
        return RetryDecision(retry=False, delay=0.0, reason=refusal)
    delay = policy.backoff.base_delay(attempt)
    fraction = _jitter_fraction(policy.backoff.jitter)
    if fraction:
        delay *= (rng or random).uniform(1.0 - fraction, 1.0 + fraction)
        max_delay = getattr(policy.backoff, "max_delay", None)
        if max_delay is not None:
            delay = min(delay, max_delay)
    return RetryDecision(retry=True, delay=max(0.0, delay),
                         reason=f"attempt {attempt + 1}/{policy.max_attempts} in {delay:.3g}s")
