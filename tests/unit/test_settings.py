"""Worker settings: defaults, validation, copies with changes, and reading the environment."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import pytest

from treadle.errors import ConfigurationError
from treadle.settings import WorkerSettings

FIELDS = [f.name for f in dataclasses.fields(WorkerSettings)]


def test_the_defaults_are_the_documented_ones() -> None:
    assert WorkerSettings() == WorkerSettings(lease_seconds=30.0, heartbeat_seconds=10.0, poll_seconds=1.0,
                                              sweep_seconds=1.0, cancel_check_seconds=0.5,
                                              shutdown_grace_seconds=30.0)
    assert dataclasses.asdict(WorkerSettings()) == {
        "lease_seconds": 30.0, "heartbeat_seconds": 10.0, "poll_seconds": 1.0, "sweep_seconds": 1.0,
        "cancel_check_seconds": 0.5, "shutdown_grace_seconds": 30.0}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [0, -1, -0.5, "5", None])
def test_every_setting_must_be_a_positive_number(field: str, value: Any) -> None:
    message = f"{field} must be a positive number of seconds, got {value!r}"
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        WorkerSettings(**{field: value})


@pytest.mark.parametrize(("lease", "heartbeat"), [(10, 10), (10, 20)])
def test_the_heartbeat_must_be_shorter_than_the_lease(lease: float, heartbeat: float) -> None:
    message = f"heartbeat_seconds ({heartbeat}) must be shorter than lease_seconds ({lease})"
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        WorkerSettings(lease_seconds=lease, heartbeat_seconds=heartbeat)


def test_integer_and_small_values_are_accepted() -> None:
    settings = WorkerSettings(lease_seconds=2, heartbeat_seconds=1, poll_seconds=0.01)

    assert (settings.lease_seconds, settings.heartbeat_seconds, settings.poll_seconds) == (2, 1, 0.01)


@pytest.mark.parametrize("field", ["lease_seconds", "poll_seconds"])
def test_nan_is_not_a_positive_number_of_seconds(field: str) -> None:
    with pytest.raises(ConfigurationError):
        WorkerSettings(**{field: math.nan})


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        WorkerSettings().lease_seconds = 5  # type: ignore[misc]


def test_with_changes_replaces_the_given_fields_and_ignores_none() -> None:
    # Given default settings
    base = WorkerSettings()

    # When some fields are changed and others passed as None (e.g. CLI options left out)
    changed = base.with_changes(lease_seconds=60, heartbeat_seconds=None, poll_seconds=0.25)

    # Then only the non-None values change, and the original is untouched
    assert changed == WorkerSettings(lease_seconds=60, poll_seconds=0.25)
    assert base == WorkerSettings()


def test_with_changes_validates_the_result() -> None:
    with pytest.raises(ConfigurationError, match="heartbeat_seconds"):
        WorkerSettings().with_changes(heartbeat_seconds=45)


def test_from_env_reads_prefixed_upper_case_keys_and_ignores_others() -> None:
    env = {"TREADLE_LEASE_SECONDS": "60", "TREADLE_POLL_SECONDS": "0.25", "TREADLE_UNKNOWN": "x", "HOME": "/"}

    assert WorkerSettings.from_env(env) == WorkerSettings(lease_seconds=60.0, poll_seconds=0.25)


def test_from_env_with_nothing_set_gives_the_defaults() -> None:
    assert WorkerSettings.from_env({}) == WorkerSettings()


def test_from_env_accepts_another_prefix() -> None:
    env = {"APP_SWEEP_SECONDS": "3", "TREADLE_SWEEP_SECONDS": "9"}

    assert WorkerSettings.from_env(env, prefix="APP_").sweep_seconds == 3.0


def test_from_env_reads_every_field() -> None:
    env = {f"TREADLE_{name.upper()}": str(i + 1) for i, name in enumerate(FIELDS)}
    env["TREADLE_HEARTBEAT_SECONDS"] = "0.5"

    settings = WorkerSettings.from_env(env)

    for i, name in enumerate(FIELDS):
        expected = 0.5 if name == "heartbeat_seconds" else float(i + 1)
        assert getattr(settings, name) == expected


@pytest.mark.parametrize("raw", ["abc", "", "10s", "1,5"])
def test_a_value_that_is_not_a_number_names_its_key(raw: str) -> None:
    message = f"TREADLE_POLL_SECONDS must be a number of seconds, got {raw!r}"
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        WorkerSettings.from_env({"TREADLE_POLL_SECONDS": raw})


def test_from_env_values_are_validated_like_arguments() -> None:
    with pytest.raises(ConfigurationError, match="cancel_check_seconds must be a positive number"):
        WorkerSettings.from_env({"TREADLE_CANCEL_CHECK_SECONDS": "-1"})
    with pytest.raises(ConfigurationError, match="must be shorter than lease_seconds"):
        WorkerSettings.from_env({"TREADLE_LEASE_SECONDS": "5"})


def test_from_env_without_a_mapping_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_SHUTDOWN_GRACE_SECONDS", "7.5")

    assert WorkerSettings.from_env().shutdown_grace_seconds == 7.5
