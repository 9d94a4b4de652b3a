"""Task states: the transition table, written out in full from the module's diagram, and terminal states."""

from __future__ import annotations

import itertools

import pytest

from treadle.core.states import TERMINAL, TRANSITIONS, TaskStatus, can_transition

P, R, S, F, C = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED, TaskStatus.FAILED,
                 TaskStatus.CANCELLED)

# The documented diagram, as an explicit table: ALLOWED[current] is every state it may move to.
ALLOWED: dict[TaskStatus, set[TaskStatus]] = {
    P: {R, C},            # claim; cancel before it ran
    R: {S, F, C, P},      # finish; fail; cancel; retry / lease lost / released
    S: set(),             # succeeded is final, not even re-driven
    F: {P},               # re-drive
    C: {P},               # re-drive
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(TaskStatus, repeat=2)),
                         ids=lambda s: str(s))
def test_transition_is_allowed_exactly_when_the_diagram_shows_it(current: TaskStatus, new: TaskStatus) -> None:
    assert can_transition(current, new) is (new in ALLOWED[current])


def test_the_transition_table_has_no_entries_beyond_the_diagram() -> None:
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == TRANSITIONS


def test_no_state_transitions_to_itself() -> None:
    assert not any(can_transition(s, s) for s in TaskStatus)


@pytest.mark.parametrize(("status", "terminal"), [(P, False), (R, False), (S, True), (F, True), (C, True)])
def test_finished_states_are_terminal(status: TaskStatus, terminal: bool) -> None:
    assert status.is_terminal is terminal
    assert (status in TERMINAL) is terminal


def test_terminal_states_are_only_left_by_a_re_drive_to_pending() -> None:
    for status in TERMINAL:
        assert {new for new in TaskStatus if can_transition(status, new)} <= {P}


@pytest.mark.parametrize(("status", "value"), [(P, "pending"), (R, "running"), (S, "succeeded"), (F, "failed"),
                                               (C, "cancelled")])
def test_states_are_stored_as_lowercase_strings(status: TaskStatus, value: str) -> None:
    assert status == value
    assert TaskStatus(value) is status
