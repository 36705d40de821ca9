"""Semantic Versioning 2.0.0 version objects with spec-compliant precedence."""
from __future__ import annotations

import re
from functools import total_ordering
from typing import Iterable, Union

_NUM = r"(0|[1-9]\d*)"
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION_RE = re.compile(
    rf"^[vV]?{_NUM}\.{_NUM}\.{_NUM}"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

Identifier = Union[int, str]


def _ident_key(ident: Identifier) -> tuple[int, int, str]:
    # numeric identifiers sort before alphanumeric ones
    if isinstance(ident, int):
        return (0, ident, "")
    return (1, 0, ident)


@total_ordering
class Version:
    __slots__ = ("major", "minor", "patch", "prerelease", "build")

    def __init__(
        self,
        major: int,
        minor: int = 0,
        patch: int = 0,
        prerelease: Iterable[Identifier] = (),
        build: Iterable[str] = (),
    ) -> None:
        if min(major, minor, patch) < 0:
            raise ValueError("version numbers must be non-negative")
        self.major, self.minor, self.patch = major, minor, patch
        self.prerelease: tuple[Identifier, ...] = tuple(prerelease)
        self.build: tuple[str, ...] = tuple(build)

    @classmethod
    def parse(cls, text: str) -> "Version":
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise ValueError(f"invalid version: {text!r}")
        major, minor, patch, pre, build = match.groups()
        pre_ids = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
        return cls(int(major), int(minor), int(patch), pre_ids, tuple(build.split(".")) if build else ())

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _precedence(self):
        # a release (no prerelease) ranks above any of its prereleases
        pre = (1,) if not self.prerelease else (0, tuple(_ident_key(i) for i in self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence() == other._precedence()

    def __lt__(self, other: "Version") -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence() < other._precedence()

    def __hash__(self) -> int:
        return hash(self._precedence())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def __repr__(self) -> str:
        return f"Version('{self}')"

    def bump_major(self) -> "Version":
        return Version(self.major + 1, 0, 0)

    def bump_minor(self) -> "Version":
        return Version(self.major, self.minor + 1, 0)

    def bump_patch(self) -> "Version":
        return Version(self.major, self.minor, self.patch + 1)

    def bump_prerelease(self, tag: str = "rc") -> "Version":
        if not self.prerelease:
            return Version(self.major, self.minor, self.patch + 1, (tag, 1))
        *head, last = self.prerelease
        if isinstance(last, int):
            return Version(self.major, self.minor, self.patch, (*head, last + 1))
        return Version(self.major, self.minor, self.patch, (*self.prerelease, 1))

    def bump(self, part: str) -> "Version":
        bumpers = {
            "major": self.bump_major,
            "minor": self.bump_minor,
            "patch": self.bump_patch,
            "prerelease": self.bump_prerelease,
        }
        if part not in bumpers:
            raise ValueError(f"unknown part: {part}")
        return bumpers[part]()


def parse_version(text: str) -> Version:
    return Version.parse(text)


def sort_versions(versions: Iterable[str | Version], reverse: bool = False) -> list[Version]:
    parsed = [v if isinstance(v, Version) else Version.parse(v) for v in versions]
    return sorted(parsed, reverse=reverse)
