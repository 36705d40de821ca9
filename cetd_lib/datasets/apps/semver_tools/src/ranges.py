"""npm-flavoured version ranges: comparators, ^caret, ~tilde, hyphen ranges, ||."""
from __future__ import annotations

import operator
import re
from typing import Callable, Iterable

from version import Version

_OPS: dict[str, Callable[[Version, Version], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_COMPARATOR_RE = re.compile(r"^(>=|<=|>|<|=|\^|~)?\s*(\S+)$")

Comparator = tuple[Callable[[Version, Version], bool], Version]


def _floor(major: int, minor: int = 0, patch: int = 0) -> Version:
    """Lowest possible version x.y.z-0, so prereleases of the bound are excluded."""
    return Version(major, minor, patch, (0,))


def _caret(v: Version) -> list[Comparator]:
    if v.major > 0:
        upper = _floor(v.major + 1)
    elif v.minor > 0:
        upper = _floor(0, v.minor + 1)
    else:
        upper = _floor(0, 0, v.patch + 1)
    return [(operator.ge, v), (operator.lt, upper)]


def _tilde(v: Version) -> list[Comparator]:
    return [(operator.ge, v), (operator.lt, _floor(v.major, v.minor + 1))]


def _parse_set(text: str) -> list[Comparator]:
    text = text.strip()
    if text in ("", "*"):
        return []
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        return [(operator.ge, Version.parse(hyphen.group(1))), (operator.le, Version.parse(hyphen.group(2)))]
    # glue operators to their version ("> = 1.0.0" is not supported, ">= 1.0.0" is)
    text = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", text)
    comparators: list[Comparator] = []
    for token in text.split():
        match = _COMPARATOR_RE.match(token)
        if not match:
            raise ValueError(f"bad comparator: {token!r}")
        op, version = match.group(1) or "=", Version.parse(match.group(2))
        if op == "^":
            comparators.extend(_caret(version))
        elif op == "~":
            comparators.extend(_tilde(version))
        else:
            comparators.append((_OPS[op], version))
    return comparators


class Range:
    """A union (`||`) of comparator sets; a version matches if any set matches fully."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._sets = [_parse_set(part) for part in spec.split("||")]

    def test(self, version: Version | str) -> bool:
        if isinstance(version, str):
            version = Version.parse(version)
        return any(all(op(version, bound) for op, bound in group) for group in self._sets)

    def __contains__(self, version: Version | str) -> bool:
        return self.test(version)

    def filter(self, versions: Iterable[Version | str]) -> list[Version]:
        parsed = [v if isinstance(v, Version) else Version.parse(v) for v in versions]
        return [v for v in parsed if self.test(v)]

    def max_satisfying(self, versions: Iterable[Version | str]) -> Version | None:
        matching = self.filter(versions)
        return max(matching) if matching else None


def satisfies(version: Version | str, spec: str) -> bool:
    return Range(spec).test(version)


def max_satisfying(versions: Iterable[Version | str], spec: str) -> Version | None:
    return Range(spec).max_satisfying(versions)
