"""A small INI-style configuration reader with defaults and ${...} interpolation."""
from __future__ import annotations

import re
from pathlib import Path

DEFAULT_SECTION = "DEFAULT"

_SECTION_RE = re.compile(r"^\[\s*([^\]]*?)\s*\]$")
_REF_RE = re.compile(r"\$\{([^}]*)\}")
_TRUTHY = {"1", "yes", "true", "on"}
_FALSY = {"0", "no", "false", "off"}
_MAX_DEPTH = 10
_MISSING = object()


class IniSyntaxError(ValueError):
    """Raised for a line that cannot be parsed; remembers the 1-based line number."""

    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


class InterpolationError(ValueError):
    """Raised when a ${...} reference is unknown or recursive."""


class IniConfig:
    """Holds parsed sections; keys are case-insensitive (stored lower-case)."""

    def __init__(self) -> None:
        self._defaults: dict[str, str] = {}
        self._sections: dict[str, dict[str, str]] = {}

    # -- structure -------------------------------------------------------
    def sections(self) -> list[str]:
        return list(self._sections)

    def has_section(self, name: str) -> bool:
        return name in self._sections

    def add_section(self, name: str) -> None:
        if name == DEFAULT_SECTION or name in self._sections:
            raise ValueError(f"section already exists: {name}")
        self._sections[name] = {}

    def _table(self, section: str) -> dict[str, str]:
        if section == DEFAULT_SECTION:
            return self._defaults
        try:
            return self._sections[section]
        except KeyError:
            raise KeyError(section) from None

    def set(self, section: str, key: str, value: object) -> None:
        self._table(section)[key.strip().lower()] = str(value)

    def options(self, section: str) -> list[str]:
        own = list(self._table(section))
        return own + [k for k in self._defaults if k not in own]

    # -- lookups ---------------------------------------------------------
    def _raw(self, section: str, key: str) -> str:
        key = key.lower()
        table = self._table(section)
        if key in table:
            return table[key]
        if key in self._defaults:
            return self._defaults[key]
        raise KeyError(key)

    def _expand(self, section: str, value: str, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise InterpolationError("interpolation too deep (cycle?)")

        def replace(match: re.Match) -> str:
            ref = match.group(1).strip()
            target_section, _, target_key = ref.rpartition(":")
            target_section = target_section or section
            try:
                raw = self._raw(target_section, target_key)
            except KeyError:
                raise InterpolationError(f"unknown reference: {ref}") from None
            return self._expand(target_section, raw, depth + 1)

        return _REF_RE.sub(replace, value)

    def get(self, section: str, key: str, fallback: object = _MISSING) -> str:
        try:
            raw = self._raw(section, key)
        except KeyError:
            if fallback is _MISSING:
                raise
            return fallback  # type: ignore[return-value]
        return self._expand(section, raw, 0)

    def get_int(self, section: str, key: str) -> int:
        return int(self.get(section, key))

    def get_float(self, section: str, key: str) -> float:
        return float(self.get(section, key))

    def get_bool(self, section: str, key: str) -> bool:
        text = self.get(section, key).strip().lower()
        if text in _TRUTHY:
            return True
        if text in _FALSY:
            return False
        raise ValueError(f"not a boolean: {text!r}")

    def items(self, section: str) -> dict[str, str]:
        return {k: self.get(section, k) for k in self.options(section)}

    def to_string(self) -> str:
        blocks = []
        named = [(DEFAULT_SECTION, self._defaults)] if self._defaults else []
        named += list(self._sections.items())
        for name, table in named:
            lines = [f"[{name}]"] + [f"{k} = {v}" for k, v in table.items()]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n" if blocks else ""


def _clean_value(text: str, lineno: int) -> str:
    text = text.strip()
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.find(quote, 1)
        if end == -1:
            raise IniSyntaxError(lineno, "unterminated quoted value")
        rest = text[end + 1:].strip()
        if rest and rest[0] not in ";#":
            raise IniSyntaxError(lineno, "text after quoted value")
        return text[1:end]
    cut = re.search(r"\s[;#]", text)
    if cut:
        text = text[:cut.start()]
    return text.strip()


def parse_ini(text: str) -> IniConfig:
    """Parse INI text into an IniConfig; raises IniSyntaxError on bad lines."""
    config = IniConfig()
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in ";#":
            continue
        header = _SECTION_RE.match(stripped)
        if header:
            name = header.group(1)
            if not name:
                raise IniSyntaxError(lineno, "empty section name")
            if name != DEFAULT_SECTION and not config.has_section(name):
                config.add_section(name)
            current = name
            continue
        positions = [p for p in (stripped.find("="), stripped.find(":")) if p != -1]
        if not positions:
            raise IniSyntaxError(lineno, "expected 'key = value'")
        if current is None:
            raise IniSyntaxError(lineno, "key outside of any section")
        split_at = min(positions)
        key = stripped[:split_at].strip()
        if not key:
            raise IniSyntaxError(lineno, "empty key")
        config.set(current, key, _clean_value(stripped[split_at + 1:], lineno))
    return config


def load_ini(path: str | Path) -> IniConfig:
    """Read a UTF-8 file from disk and parse it."""
    return parse_ini(Path(path).read_text(encoding="utf-8"))
