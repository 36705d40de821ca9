"""Parsing of single application log lines."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}

_LINE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}:\d{2})\s+"
    r"\[(?P<level>[A-Za-z]+)\]\s+(?P<source>[\w.\-]+):\s?(?P<message>.*)$"
)
_FIELD = re.compile(r'(\w+)=("([^"]*)"|\S+)')


def normalize_level(name: str) -> str:
    """Upper-case a level name and resolve aliases; unknown names raise ValueError."""
    upper = name.strip().upper()
    upper = _ALIASES.get(upper, upper)
    if upper not in LEVELS:
        raise ValueError(f"unknown level: {name}")
    return upper


def severity(level: str) -> int:
    """0 for DEBUG up to 4 for CRITICAL."""
    return LEVELS.index(normalize_level(level))


def extract_fields(message: str) -> dict[str, str]:
    """Collect key=value pairs; values may be double-quoted to contain spaces."""
    found = {}
    for match in _FIELD.finditer(message):
        key, raw, quoted = match.groups()
        found[key] = quoted if quoted is not None else raw
    return found


@dataclass
class LogRecord:
    timestamp: datetime
    level: str
    source: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def hour_bucket(self) -> str:
        return self.timestamp.strftime("%Y-%m-%d %H:00")


def parse_line(line: str) -> LogRecord | None:
    """Return a LogRecord, or None if the line does not follow the format."""
    match = _LINE.match(line.strip())
    if not match:
        return None
    try:
        stamp = datetime.strptime(f"{match['date']} {match['time']}", "%Y-%m-%d %H:%M:%S")
        level = normalize_level(match["level"])
    except ValueError:
        return None
    message = match["message"].strip()
    return LogRecord(stamp, level, match["source"], message, extract_fields(message))
