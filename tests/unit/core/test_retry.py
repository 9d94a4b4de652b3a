"""Retry policies: backoff arithmetic, jitter bounds, validation, JSON round trips and `decide`."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest

from treadle.core import serde
from treadle.core.records import LEASE_EXPIRED, ErrorInfo
from treadle.core.retry import (
    DEFAULT_POLICY,
    ExponentialBackoff,
    FixedBackoff,
    LinearBackoff,
    RetryPolicy,
    decide,
    exception_name,
)
from treadle.errors import ConfigurationError, TaskError, TaskValidationError


class UpperBoundRandom(random.Random):
    """A random source whose `uniform` records its bounds and always returns the upper one."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return b


class LowerBoundRandom(random.Random):
    """A random source whose `uniform` always returns the lower bound."""

    def uniform(self, a: float, b: float) -> float:
        return a


class PaymentDeclined(TaskError):
    """A task error raised by "user code" in these tests."""


class CardExpired(PaymentDeclined):
    """A subclass, to check that `retry_on` follows inheritance."""


def error_from(exc: BaseException) -> ErrorInfo:
    return ErrorInfo.from_exception(exc, attempt=1, at=0.0)


def plain_error(**kw: Any) -> ErrorInfo:
    return ErrorInfo(**({"message": "boom", "error_type": "ValueError"} | kw))


# --- backoff arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "expected"), [
    (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 32.0), (7, 60.0), (8, 60.0), (50, 60.0),
])
def test_default_exponential_backoff_doubles_from_one_second_up_to_sixty(failures: int, expected: float) -> None:
    assert ExponentialBackoff().base_delay(failures) == expected


@pytest.mark.parametrize(("failures", "expected"), [(1, 0.5), (2, 1.5), (3, 4.5), (4, 10.0), (9, 10.0)])
def test_exponential_backoff_is_capped_at_max_delay(failures: int, expected: float) -> None:
    backoff = ExponentialBackoff(initial=0.5, multiplier=3, max_delay=10)

    assert backoff.base_delay(failures) == pytest.approx(expected)


def test_exponential_backoff_with_multiplier_one_is_constant() -> None:
    backoff = ExponentialBackoff(initial=3, multiplier=1)

    assert [backoff.base_delay(n) for n in range(1, 6)] == [3, 3, 3, 3, 3]


@pytest.mark.parametrize(("failures", "expected"), [(1, 2.0), (2, 5.0), (3, 8.0), (4, 10.0), (100, 10.0)])
def test_linear_backoff_adds_the_increment_per_failure_up_to_max_delay(failures: int, expected: float) -> None:
    backoff = LinearBackoff(initial=2, increment=3, max_delay=10)

    assert backoff.base_delay(failures) == expected


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 2.0), (3, 3.0), (60, 60.0), (61, 60.0)])
def test_default_linear_backoff_grows_one_second_per_failure(failures: int, expected: float) -> None:
    assert LinearBackoff().base_delay(failures) == expected


@pytest.mark.parametrize("failures", [1, 2, 5, 1000])
def test_fixed_backoff_always_waits_the_same_delay(failures: int) -> None:
    assert FixedBackoff(7.5).base_delay(failures) == 7.5


@pytest.mark.parametrize("backoff", [ExponentialBackoff(initial=4), LinearBackoff(initial=4)])
def test_failure_counts_below_one_use_the_initial_delay(backoff: ExponentialBackoff | LinearBackoff) -> None:
    assert backoff.base_delay(0) == 4


@pytest.mark.parametrize(("backoff", "attempt", "expected"), [
    (ExponentialBackoff(), 1, 1.0),
    (ExponentialBackoff(), 3, 4.0),
    (ExponentialBackoff(initial=10, max_delay=25), 3, 25.0),
    (LinearBackoff(initial=1, increment=2), 3, 5.0),
    (FixedBackoff(0), 4, 0.0),
    (FixedBackoff(2.5), 9, 2.5),
])
def test_decide_waits_the_backoff_delay_for_the_failed_attempt(backoff: Any, attempt: int, expected: float) -> None:
    # Given a policy with plenty of attempts and no jitter
    policy = RetryPolicy(max_attempts=10, backoff=backoff)

    # When attempt `attempt` fails
    decision = decide(policy, attempt, plain_error())

    # Then the next attempt waits exactly the backoff's delay
    assert decision.retry is True
    assert decision.delay == expected


def test_exponential_backoff_stays_capped_for_very_many_failures() -> None:
    # Given a long-running policy ("retry for days") with the default exponential backoff
    policy = RetryPolicy(max_attempts=5000)

    # When attempt 1100 fails, Then the delay is simply max_delay
    assert decide(policy, 1100, plain_error()).delay == 60.0


# --- jitter ---------------------------------------------------------------------------------------


def test_jitter_true_spreads_the_delay_over_plus_or_minus_half() -> None:
    rng = UpperBoundRandom()
    policy = RetryPolicy(max_attempts=5, backoff=FixedBackoff(4, jitter=True))

    decision = decide(policy, 1, plain_error(), rng)

    assert rng.calls == [(0.5, 1.5)]
    assert decision.delay == 6.0


def test_a_jitter_fraction_sets_the_spread() -> None:
    rng = UpperBoundRandom()
    policy = RetryPolicy(max_attempts=5, backoff=LinearBackoff(initial=10, jitter=0.2))

    decision = decide(policy, 1, plain_error(), rng)

    assert rng.calls == [pytest.approx((0.8, 1.2))]
    assert decision.delay == pytest.approx(12.0)


def test_without_jitter_the_random_source_is_not_used() -> None:
    rng = UpperBoundRandom()

    decide(RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(jitter=False)), 2, plain_error(), rng)

    assert rng.calls == []


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("jitter", [0.1, 0.5, 1.0])
def test_jittered_exponential_delay_stays_within_its_band_and_under_the_cap(seed: int, jitter: float) -> None:
    # Given an exponential backoff whose uncapped band would exceed max_delay from attempt 4 on
    backoff = ExponentialBackoff(initial=1, multiplier=2, max_delay=10, jitter=jitter)
    policy = RetryPolicy(max_attempts=10, backoff=backoff)
    rng = random.Random(seed)

    for attempt in range(1, 10):
        base = backoff.base_delay(attempt)
        # When the attempt fails
        delay = decide(policy, attempt, plain_error(), rng).delay
        # Then the delay is within base * (1 ± jitter), and never above max_delay
        assert base * (1 - jitter) <= delay <= min(base * (1 + jitter), 10.0)


def test_jitter_that_would_exceed_max_delay_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=ExponentialBackoff(max_delay=10, jitter=0.5))

    # Attempt 9 is already at the cap; the upper end of the jitter band would be 15 s.
    assert decide(policy, 9, plain_error(), UpperBoundRandom()).delay == 10.0


def test_jitter_can_shorten_a_capped_delay() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=ExponentialBackoff(max_delay=10, jitter=0.5))

    assert decide(policy, 9, plain_error(), LowerBoundRandom(0)).delay == 5.0


def test_fixed_backoff_has_no_cap_so_jitter_can_lengthen_it() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=FixedBackoff(10, jitter=0.5))

    assert decide(policy, 1, plain_error(), UpperBoundRandom()).delay == 15.0


def test_full_jitter_never_gives_a_negative_delay() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=FixedBackoff(3, jitter=1.0))

    assert decide(policy, 1, plain_error(), LowerBoundRandom(0)).delay == 0.0


def test_the_same_seed_gives_the_same_jittered_delays() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=ExponentialBackoff(jitter=True))

    first = [decide(policy, n, plain_error(), random.Random(42)).delay for n in range(1, 8)]
    second = [decide(policy, n, plain_error(), random.Random(42)).delay for n in range(1, 8)]

    assert first == second


# --- argument validation --------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ExponentialBackoff(initial=-1), "initial must be a finite number >= 0, got -1"),
    (lambda: ExponentialBackoff(max_delay=-0.5), "max_delay must be a finite number >= 0, got -0.5"),
    (lambda: ExponentialBackoff(multiplier=0.5), "multiplier must be a finite number >= 1, got 0.5"),
    (lambda: ExponentialBackoff(jitter=1.5), "jitter must be a bool or a fraction in [0, 1], got 1.5"),
    (lambda: ExponentialBackoff(jitter=-0.1), "jitter must be a bool or a fraction in [0, 1], got -0.1"),
    (lambda: LinearBackoff(initial=-2), "initial must be a finite number >= 0, got -2"),
    (lambda: LinearBackoff(increment=-1), "increment must be a finite number >= 0, got -1"),
    (lambda: LinearBackoff(max_delay=-1), "max_delay must be a finite number >= 0, got -1"),
    (lambda: LinearBackoff(jitter=2), "jitter must be a bool or a fraction in [0, 1], got 2"),
    (lambda: FixedBackoff(-3), "delay must be a finite number >= 0, got -3"),
    (lambda: FixedBackoff(1, jitter=1.01), "jitter must be a bool or a fraction in [0, 1], got 1.01"),
])
def test_invalid_backoff_arguments_raise_a_configuration_error_naming_the_argument(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("jitter", [0, 0.0, 1, 1.0, True, False])
def test_jitter_accepts_bools_and_the_fraction_bounds(jitter: float) -> None:
    assert FixedBackoff(1, jitter=jitter).jitter == jitter


@pytest.mark.parametrize("max_attempts", [0, -1, 2.5, "3", None])
def test_max_attempts_must_be_a_positive_integer(max_attempts: Any) -> None:
    message = f"max_attempts must be an integer >= 1, got {max_attempts!r}"
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        RetryPolicy(max_attempts=max_attempts)


@pytest.mark.parametrize("bad", [42, int, b"ValueError", None])
def test_retry_on_rejects_things_that_are_not_exception_classes_or_names(bad: Any) -> None:
    message = f"retry_on takes exception classes or their names, got {bad!r}"
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        RetryPolicy(retry_on=[ValueError, bad])


@pytest.mark.parametrize(("retry_on", "stored"), [("ValueError", ("ValueError",)),
                                               (ValueError, ("builtins.ValueError",))])
def test_a_single_retry_on_entry_is_taken_as_one_name(retry_on: Any, stored: tuple[str, ...]) -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=retry_on)

    assert policy.retry_on == stored
    assert decide(policy, 1, error_from(ValueError("bad"))).retry is True
    assert decide(policy, 1, error_from(KeyError("bad"))).retry is False


def test_a_backoff_that_is_not_a_backoff_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(backoff="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [
    lambda: FixedBackoff(math.nan),
    lambda: ExponentialBackoff(multiplier=math.nan),
    lambda: LinearBackoff(increment=math.nan),
], ids=["fixed-delay", "exponential-multiplier", "linear-increment"])
def test_nan_backoff_arguments_are_a_configuration_error(make: Any) -> None:
    with pytest.raises(ConfigurationError):
        make()


def test_simple_rejects_negative_retries() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("retries must be >= 0, got -1")):
        RetryPolicy.simple(-1)


def test_from_dict_rejects_an_unknown_backoff_kind() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("unknown backoff kind 'quadratic'")):
        RetryPolicy.from_dict({"max_attempts": 2, "backoff": {"kind": "quadratic"}})


# --- construction, JSON form ----------------------------------------------------------------------


def test_the_default_policy_is_three_attempts_with_default_exponential_backoff() -> None:
    assert RetryPolicy() == DEFAULT_POLICY
    assert DEFAULT_POLICY.max_attempts == 3
    assert DEFAULT_POLICY.backoff == ExponentialBackoff(initial=1.0, multiplier=2.0, max_delay=60.0, jitter=False)
    assert DEFAULT_POLICY.retry_on == ()
    assert DEFAULT_POLICY.stop_on_codes == ()


def test_retry_on_classes_are_stored_as_qualified_names() -> None:
    policy = RetryPolicy(retry_on=[ConnectionError, PaymentDeclined, "TimeoutError"])

    assert policy.retry_on == ("builtins.ConnectionError", f"{__name__}.PaymentDeclined", "TimeoutError")


def test_exception_name_is_module_and_qualified_name() -> None:
    assert exception_name(KeyError) == "builtins.KeyError"
    assert exception_name(CardExpired) == f"{__name__}.CardExpired"


def test_simple_gives_retries_plus_one_attempts_with_a_fixed_delay() -> None:
    assert RetryPolicy.simple(2, 0.5) == RetryPolicy(max_attempts=3, backoff=FixedBackoff(0.5))
    assert RetryPolicy.simple(0) == RetryPolicy(max_attempts=1, backoff=FixedBackoff(0.0))


def test_no_retry_is_a_single_attempt() -> None:
    assert RetryPolicy.no_retry().max_attempts == 1


def test_to_dict_has_the_documented_json_shape() -> None:
    policy = RetryPolicy(max_attempts=4, backoff=LinearBackoff(initial=1, increment=2, max_delay=9, jitter=0.1),
                         retry_on=[ConnectionError], stop_on_codes=["DECLINED"])

    assert policy.to_dict() == {
        "max_attempts": 4,
        "backoff": {"kind": "linear", "initial": 1, "increment": 2, "max_delay": 9, "jitter": 0.1},
        "retry_on": ["builtins.ConnectionError"],
        "stop_on_codes": ["DECLINED"],
    }


@pytest.mark.parametrize("policy", [
    RetryPolicy(),
    RetryPolicy(max_attempts=1),
    RetryPolicy(max_attempts=7, backoff=ExponentialBackoff(initial=0.25, multiplier=3, max_delay=120, jitter=True)),
    RetryPolicy(backoff=ExponentialBackoff(jitter=0.3)),
    RetryPolicy(backoff=LinearBackoff(initial=0, increment=5, max_delay=30, jitter=False)),
    RetryPolicy(backoff=FixedBackoff(12.5, jitter=0.25)),
    RetryPolicy(retry_on=[ConnectionError, "TimeoutError", PaymentDeclined], stop_on_codes=["A", "B"]),
], ids=["default", "single", "exponential-jitter-true", "exponential-jitter-fraction", "linear", "fixed", "filters"])
def test_a_policy_survives_a_json_round_trip(policy: RetryPolicy) -> None:
    # When the policy is stored as JSON and read back
    restored = RetryPolicy.from_dict(serde.loads(serde.dumps(policy.to_dict())))

    # Then it is the same policy, backoff kind included
    assert restored == policy
    assert type(restored.backoff) is type(policy.backoff)


def test_from_dict_fills_missing_fields_with_defaults() -> None:
    assert RetryPolicy.from_dict({}) == DEFAULT_POLICY
    assert RetryPolicy.from_dict({"max_attempts": 5, "backoff": None}) == RetryPolicy(max_attempts=5)
    assert RetryPolicy.from_dict({"backoff": {"delay": 3, "kind": "fixed"}}).backoff == FixedBackoff(3)


# --- decide ---------------------------------------------------------------------------------------


def test_a_retryable_error_with_attempts_left_is_retried_with_a_reason() -> None:
    decision = decide(RetryPolicy(max_attempts=3), 2, plain_error())

    assert decision.retry is True
    assert decision.delay == 2.0
    assert decision.reason == "attempt 3/3 in 2s"


def test_a_non_retryable_error_is_not_retried() -> None:
    # Given a policy that would otherwise retry a ValueError
    policy = RetryPolicy(max_attempts=5, retry_on=[ValueError])

    # When the error says it is not retryable
    decision = decide(policy, 1, plain_error(retryable=False))

    # Then there is no retry, and the reason says why
    assert (decision.retry, decision.delay, decision.reason) == (False, 0.0, "the error is not retryable")


def test_a_validation_error_is_never_retried() -> None:
    decision = decide(RetryPolicy(max_attempts=5), 1, error_from(TaskValidationError("bad args")))

    assert decision.retry is False
    assert decision.reason == "the error is not retryable"


def test_an_error_code_in_stop_on_codes_gives_up_at_once() -> None:
    policy = RetryPolicy(max_attempts=5, stop_on_codes=["CARD_DECLINED"])

    decision = decide(policy, 1, error_from(PaymentDeclined("no", error_code="CARD_DECLINED")))

    assert decision.retry is False
    assert decision.reason == "error code CARD_DECLINED is in stop_on_codes"


def test_an_error_code_not_in_stop_on_codes_is_retried() -> None:
    policy = RetryPolicy(max_attempts=5, stop_on_codes=["CARD_DECLINED"])

    assert decide(policy, 1, error_from(PaymentDeclined("busy", error_code="RATE_LIMITED"))).retry is True


@pytest.mark.parametrize(("retry_on", "exc"), [
    ([ConnectionError], ConnectionError("down")),
    ([OSError], ConnectionRefusedError("refused")),          # a subclass of a listed class
    (["ConnectionError"], ConnectionResetError("reset")),     # a short name matches a base class too
    (["builtins.ConnectionError"], ConnectionError("down")),  # the qualified name
    ([PaymentDeclined], CardExpired("expired")),              # user TaskError subclasses
    (["PaymentDeclined"], CardExpired("expired")),
    ([KeyError, ConnectionError], ConnectionError("down")),   # any listed class
])
def test_retry_on_retries_listed_classes_and_their_subclasses(retry_on: list[Any], exc: BaseException) -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=retry_on)

    assert decide(policy, 1, error_from(exc)).retry is True


@pytest.mark.parametrize(("retry_on", "exc"), [
    ([ConnectionError], ValueError("bad")),
    ([ConnectionRefusedError], ConnectionError("down")),      # a base class is not a listed subclass
    ([CardExpired], PaymentDeclined("declined")),
    (["Connection"], ConnectionError("down")),                # names match whole, not by prefix
])
def test_retry_on_does_not_retry_other_errors(retry_on: list[Any], exc: BaseException) -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=retry_on)

    decision = decide(policy, 1, error_from(exc))

    assert decision.retry is False
    assert decision.reason == f"{type(exc).__name__} is not in retry_on"


def test_retry_on_matches_the_recorded_error_type_without_exception_types() -> None:
    # Given an error read back from storage that only carries its error_type (e.g. written by another worker)
    error = ErrorInfo(message="slow down", error_type="RateLimited")

    assert decide(RetryPolicy(retry_on=["RateLimited"]), 1, error).retry is True
    assert decide(RetryPolicy(retry_on=["Throttled"]), 1, error).retry is False


def test_the_last_attempt_is_not_retried() -> None:
    decision = decide(RetryPolicy(max_attempts=3), 3, plain_error())

    assert (decision.retry, decision.delay, decision.reason) == (False, 0.0, "attempts exhausted (3/3)")


def test_a_single_attempt_policy_never_retries() -> None:
    assert decide(RetryPolicy.no_retry(), 1, plain_error()).reason == "attempts exhausted (1/1)"


def test_a_non_retryable_error_reports_that_rather_than_exhaustion() -> None:
    assert decide(RetryPolicy(max_attempts=1), 1, plain_error(retryable=False)).reason == "the error is not retryable"


def test_a_lease_expiry_is_retried_whatever_retry_on_and_stop_on_codes_say() -> None:
    # Given a policy that only retries ConnectionError and stops on the code "X"
    policy = RetryPolicy(max_attempts=3, backoff=FixedBackoff(5), retry_on=[ConnectionError], stop_on_codes=["X"])
    # And an error saying the worker vanished
    error = ErrorInfo(message="lease expired", error_type=LEASE_EXPIRED, error_code="X", retryable=False)

    # When deciding after attempt 1
    decision = decide(policy, 1, error)

    # Then it is retried with the usual backoff
    assert (decision.retry, decision.delay) == (True, 5.0)


def test_a_lease_expiry_on_the_last_attempt_is_not_retried() -> None:
    error = ErrorInfo(message="lease expired", error_type=LEASE_EXPIRED)

    decision = decide(RetryPolicy(max_attempts=2), 2, error)

    assert (decision.retry, decision.reason) == (False, "attempts exhausted (2/2)")
