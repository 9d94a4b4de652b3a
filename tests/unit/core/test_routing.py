"""Task names and subscription patterns: matching, SQL translations, validation."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadle.core.routing import Pattern, matches_any, parse_patterns, validate_name
from treadle.errors import ConfigurationError

# --- validate_name --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "add", "math.add", "notify.email.v1", "send_email", "Billing.Charge", "a" * 200, "tâche.été", "x-y/z:1",
    "[weird]", "back\\slash",
])
def test_a_valid_name_is_returned_unchanged(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", [
    "", "send email", " add", "add ", "tab\tname", "line\nbreak", "math.*", "billing.%", "what?", "a" * 201,
], ids=["empty", "space", "leading-space", "trailing-space", "tab", "inner-newline", "star", "percent",
        "question-mark", "201-chars"])
def test_an_invalid_name_raises_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"invalid task name {name!r}")):
        validate_name(name)


@pytest.mark.parametrize("name", [None, 42, b"add"])
def test_a_name_that_is_not_a_string_raises_a_configuration_error(name: object) -> None:
    with pytest.raises(ConfigurationError, match="invalid task name"):
        validate_name(name)  # type: ignore[arg-type]


def test_the_name_error_message_says_what_is_allowed() -> None:
    with pytest.raises(ConfigurationError) as info:
        validate_name("send email")

    assert str(info.value) == ("invalid task name 'send email': use 1-200 characters without spaces "
                               "or the wildcards * % ?")


@pytest.mark.parametrize("name", ["add\n", "a" * 200 + "\n"], ids=["short", "201-chars"])
def test_a_name_with_a_trailing_newline_is_invalid(name: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_name(name)


# --- Pattern.matches ------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    # glob star: any run of characters, dots included
    ("math.*", "math.add", True),
    ("math.*", "math.ops.add", True),
    ("math.*", "math.", True),
    ("math.*", "math", False),
    ("math.*", "mathx.add", False),
    ("math.*", "Math.add", False),
    ("*.v1", "notify.email.v1", True),
    ("*", "anything.at.all", True),
    # SQL LIKE percent: same as star
    ("billing.%", "billing.charge", True),
    ("billing.%", "billing.refund.partial", True),
    ("billing.%", "billing", False),
    ("billing.%", "shipping.charge", False),
    ("%", "x", True),
    ("%.charge", "billing.charge", True),
    # question mark: exactly one character
    ("math.?dd", "math.add", True),
    ("math.?dd", "math.dd", False),
    ("math.?dd", "math.aadd", False),
    ("v?", "v1", True),
    ("v?", "v10", False),
    # underscore is literal, never a LIKE wildcard
    ("send_*", "send_sms", True),
    ("send_*", "sendXsms", False),
    ("send_email", "send_email", True),
    ("send_email", "sendXemail", False),
    # dots and brackets are literal
    ("a.b*", "axb", False),
    ("a.b", "axb", False),
    ("[ab]*", "[ab]x", True),
    ("[ab]*", "ax", False),
    # case sensitivity and exact names
    ("notify.email.v1", "notify.email.v1", True),
    ("notify.email.v1", "notify.email.v2", False),
    ("notify.email.v1", "NOTIFY.email.v1", False),
    ("notify.email.v1", "notify.email.v1.x", False),
    ("Billing.*", "billing.charge", False),
])
def test_pattern_matches(pattern: str, name: str, expected: bool) -> None:
    assert Pattern(pattern).matches(name) is expected


@pytest.mark.parametrize(("text", "exact"), [
    ("math.add", True), ("send_email", True), ("math.*", False), ("billing.%", False), ("v?", False),
])
def test_a_pattern_without_wildcards_is_exact(text: str, exact: bool) -> None:
    assert Pattern(text).is_exact is exact


@pytest.mark.parametrize("text", ["", "a b", "math. *", "\tx", "a" * 201], ids=["empty", "space", "space-star",
                                                                                 "tab", "201-chars"])
def test_an_invalid_pattern_raises_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"invalid pattern {text!r}")):
        Pattern(text)


def test_a_pattern_of_200_characters_is_allowed() -> None:
    assert Pattern("a" * 199 + "*").matches("a" * 199 + "bc")


def test_a_pattern_does_not_match_a_name_with_an_extra_trailing_newline() -> None:
    assert Pattern("math.?").matches("math.a\n") is False


# --- SQL translations -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "like"), [
    ("billing.%", "billing.%"),
    ("math.*", "math.%"),
    ("x?y", "x_y"),
    ("send_email", "send\\_email"),
    ("a_?", "a\\__"),
    ("a\\b", "a\\\\b"),
    ("a[1]", "a[1]"),
    ("*_*", "%\\_%"),
])
def test_to_like_translates_wildcards_and_escapes_underscore_and_backslash(text: str, like: str) -> None:
    assert Pattern(text).to_like() == like


@pytest.mark.parametrize(("text", "glob"), [
    ("math.*", "math.*"),
    ("billing.%", "billing.*"),
    ("x?", "x?"),
    ("send_email", "send_email"),
    ("a[1]", "a[[]1[]]"),
    ("[*]", "[[]*[]]"),
    ("a\\b", "a\\b"),
])
def test_to_glob_translates_wildcards_and_escapes_brackets(text: str, glob: str) -> None:
    assert Pattern(text).to_glob() == glob


# --- parse_patterns, matches_any ------------------------------------------------------------------


def test_parse_patterns_drops_duplicates_and_keeps_order() -> None:
    patterns = parse_patterns(["b.*", "a", "b.*", "c%", "a"])

    assert patterns == (Pattern("b.*"), Pattern("a"), Pattern("c%"))


def test_parse_patterns_rejects_an_invalid_pattern() -> None:
    with pytest.raises(ConfigurationError):
        parse_patterns(["ok.*", "not ok"])


def test_matches_any_is_true_when_one_pattern_matches() -> None:
    patterns = parse_patterns(["billing.*", "math.add"])

    assert matches_any(patterns, "math.add")
    assert matches_any(patterns, "billing.refund")
    assert not matches_any(patterns, "math.sub")
    assert not matches_any((), "math.add")


# --- properties against independent reference matchers ---------------------------------------------


def _wildcard_match(tokens: list[tuple[str, str]], name: str) -> bool:
    """Match `name` against tokens: ("any", "") for a run, ("one", "") for one char, ("set", chars), ("lit", c)."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(tokens):
            return j == len(name)
        kind, value = tokens[i]
        if kind == "any":
            return match(i + 1, j) or (j < len(name) and match(i, j + 1))
        if j == len(name):
            return False
        ok = kind == "one" or (kind == "set" and name[j] in value) or (kind == "lit" and name[j] == value)
        return ok and match(i + 1, j + 1)

    return match(0, 0)


def _pattern_tokens(text: str) -> list[tuple[str, str]]:
    return [("any", "") if c in "*%" else ("one", "") if c == "?" else ("lit", c) for c in text]


def _like_tokens(like: str) -> list[tuple[str, str]]:
    tokens, i = [], 0
    while i < len(like):
        c = like[i]
        if c == "\\":
            tokens.append(("lit", like[i + 1]))
            i += 2
            continue
        tokens.append(("any", "") if c == "%" else ("one", "") if c == "_" else ("lit", c))
        i += 1
    return tokens


def _glob_tokens(glob: str) -> list[tuple[str, str]]:
    tokens, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "[":
            end = glob.index("]", i + 2)  # a ']' right after '[' is a member of the set
            tokens.append(("set", glob[i + 1:end]))
            i = end + 1
            continue
        tokens.append(("any", "") if c == "*" else ("one", "") if c == "?" else ("lit", c))
        i += 1
    return tokens


PIECES = ["math", "add", "billing", ".", "_", "v1", "A", "a", "[", "]", "\\", "-", "é"]
WILDCARDS = ["*", "%", "?"]


@st.composite
def name_and_pattern(draw: st.DrawFn) -> tuple[str, str]:
    """A name made of pieces, and a pattern made by keeping, replacing, dropping or adding pieces."""
    pieces = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
    pattern: list[str] = []
    for piece in pieces:
        action = draw(st.sampled_from(["keep", "keep", "wild", "drop", "extra"]))
        if action == "keep":
            pattern.append(piece)
        elif action == "wild":
            pattern.append(draw(st.sampled_from(WILDCARDS)))
        elif action == "extra":
            pattern.extend([piece, draw(st.sampled_from(PIECES + WILDCARDS))])
    return "".join(pieces), "".join(pattern) or "*"


FAST = settings(max_examples=200, deadline=None, database=None)


@FAST
@given(name_and_pattern())
def test_pattern_matches_agrees_with_a_reference_wildcard_matcher(case: tuple[str, str]) -> None:
    name, text = case

    assert Pattern(text).matches(name) is _wildcard_match(_pattern_tokens(text), name)


@FAST
@given(name_and_pattern())
def test_to_like_selects_exactly_what_the_pattern_matches(case: tuple[str, str]) -> None:
    # LIKE is interpreted case-sensitively here: this checks the wildcard translation and escaping only.
    name, text = case

    assert _wildcard_match(_like_tokens(Pattern(text).to_like()), name) is Pattern(text).matches(name)


@FAST
@given(name_and_pattern())
def test_to_glob_selects_exactly_what_the_pattern_matches(case: tuple[str, str]) -> None:
    name, text = case

    assert _wildcard_match(_glob_tokens(Pattern(text).to_glob()), name) is Pattern(text).matches(name)


@FAST
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6), st.data())
def test_replacing_any_piece_of_a_name_with_a_star_still_matches_it(pieces: list[str], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(pieces) - 1))
    text = "".join([*pieces[:i], data.draw(st.sampled_from(["*", "%"])), *pieces[i + 1:]])

    assert Pattern(text).matches("".join(pieces))


def test_the_reference_matchers_are_not_trivially_true() -> None:
    # Guard the property tests: the references must themselves tell matches from non-matches.
    checks: list[tuple[Callable[[str], list[tuple[str, str]]], str, str, bool]] = [
        (_pattern_tokens, "a?c", "abc", True), (_pattern_tokens, "a?c", "ac", False),
        (_like_tokens, "a\\_c", "a_c", True), (_like_tokens, "a\\_c", "abc", False),
        (_glob_tokens, "a[]]c", "a]c", True), (_glob_tokens, "a[[]c", "abc", False),
    ]
    for tokens, text, name, expected in checks:
        assert _wildcard_match(tokens(text), name) is expected
