"""Task names and the patterns workers subscribe with.

Names are dotted (`notify.email.v1`). A pattern accepts both spellings users bring:
the glob `notify.*` and the SQL-LIKE prefix `notify.%`. `*` and `%` match any run of
characters (dots included), `?` matches exactly one; every other character is literal
(so `_` in `send_email` is an underscore, not a LIKE wildcard). A name may not contain
`*`, `%` or `?`, so a pattern can never be confused with a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigurationError

_WILDCARDS = frozenset("*%?")
_NAME_RE = re.compile(r"[^\s*%?]{1,200}")


def validate_name(name: str, what: str = "task name") -> str:
    """Return `name` if it is a valid task (or orchestration) name, else raise `ConfigurationError`.

    Names become claim patterns, so they may not hold the wildcards patterns use.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"invalid {what} {name!r}: use 1-200 characters without spaces or the wildcards * % ?")
    return name


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed subscription pattern; `text` is what the user wrote."""

    text: str

    def __post_init__(self) -> None:
        if not self.text or any(c.isspace() for c in self.text) or len(self.text) > 200:
            raise ConfigurationError(f"invalid pattern {self.text!r}")

    @property
    def is_exact(self) -> bool:
        """True when the pattern has no wildcard, i.e. it names one task."""
        return not (_WILDCARDS & set(self.text))

    def regex(self) -> re.Pattern[str]:
        """A regular expression equivalent to the pattern (use it with `fullmatch`)."""
        parts = []
        for c in self.text:
            if c in "*%":
                parts.append(".*")
            elif c == "?":
                parts.append(".")
            else:
                parts.append(re.escape(c))
        return re.compile("".join(parts), re.DOTALL)

    def matches(self, name: str) -> bool:
        """Whether the task name `name` is selected by this pattern."""
        if self.is_exact:
            return name == self.text
        return self.regex().fullmatch(name) is not None

    def to_like(self) -> str:
        """The pattern as SQL LIKE text with `\\` as the escape character."""
        out = []
        for c in self.text:
            if c in "*%":
                out.append("%")
            elif c == "?":
                out.append("_")
            elif c in "_\\":
                out.append("\\" + c)
            else:
                out.append(c)
        return "".join(out)

    def to_glob(self) -> str:
        """The pattern as SQLite GLOB text (case-sensitive, unlike SQLite's LIKE)."""
        out = []
        for c in self.text:
            if c in "*%":
                out.append("*")
            elif c == "?":
                out.append("?")
            elif c in "[]":
                out.append(f"[{c}]")
            else:
                out.append(c)
        return "".join(out)


def parse_patterns(patterns: list[str] | tuple[str, ...]) -> tuple[Pattern, ...]:
    """Parse user patterns, dropping duplicates but keeping order."""
    seen: dict[str, Pattern] = {}
    for text in patterns:
        if text not in seen:
            seen[text] = Pattern(text)
    return tuple(seen.values())


def matches_any(patterns: tuple[Pattern, ...], name: str) -> bool:
    """Whether any of `patterns` selects `name`."""
    return any(p.matches(name) for p in patterns)
