"""Configurable password policy returning machine-readable violation codes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from strength import character_classes, longest_run


class PolicyViolation(ValueError):
    def __init__(self, codes: list[str]) -> None:
        super().__init__("password violates policy: " + ", ".join(codes))
        self.codes = codes


@dataclass
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 64
    require_upper: bool = True
    require_lower: bool = True
    require_digit: bool = True
    require_symbol: bool = False
    forbid_whitespace: bool = True
    max_repeat: Optional[int] = None
    banned_words: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.min_length < 1 or self.max_length < self.min_length:
            raise ValueError("need 1 <= min_length <= max_length")
        if self.max_repeat is not None and self.max_repeat < 1:
            raise ValueError("max_repeat must be >= 1")

    def check(self, password: str, username: Optional[str] = None) -> list[str]:
        """All violated rules, in a fixed order; empty list means acceptable."""
        problems: list[str] = []
        classes = character_classes(password)
        if len(password) < self.min_length:
            problems.append("too_short")
        if len(password) > self.max_length:
            problems.append("too_long")
        if self.require_upper and "upper" not in classes:
            problems.append("missing_upper")
        if self.require_lower and "lower" not in classes:
            problems.append("missing_lower")
        if self.require_digit and "digit" not in classes:
            problems.append("missing_digit")
        if self.require_symbol and not any(_is_symbol(ch) for ch in password):
            problems.append("missing_symbol")
        if self.forbid_whitespace and any(ch.isspace() for ch in password):
            problems.append("whitespace")
        if self.max_repeat is not None and longest_run(password) > self.max_repeat:
            problems.append("repeated_chars")
        lowered = password.lower()
        if any(word.lower() in lowered for word in self.banned_words if word):
            problems.append("banned_word")
        if username and username.lower() in lowered:
            problems.append("contains_username")
        return problems

    def is_valid(self, password: str, username: Optional[str] = None) -> bool:
        return not self.check(password, username)

    def validate(self, password: str, username: Optional[str] = None) -> None:
        codes = self.check(password, username)
        if codes:
            raise PolicyViolation(codes)


def _is_symbol(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace()


def policy_from_dict(options: dict) -> PasswordPolicy:
    """Build a policy from a plain config dict; unknown keys raise KeyError."""
    known = set(PasswordPolicy.__dataclass_fields__)
    unknown = set(options) - known
    if unknown:
        raise KeyError(f"unknown policy options: {sorted(unknown)}")
    opts = dict(options)
    if "banned_words" in opts:
        opts["banned_words"] = tuple(opts["banned_words"])
    return PasswordPolicy(**opts)
