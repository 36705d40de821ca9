"""Aggregate statistics over many parsed log records."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Iterable

from records import LEVELS, LogRecord, parse_line, severity


class LogAnalyzer:
    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.malformed = 0

    def feed(self, lines: Iterable[str]) -> int:
        """Parse lines, skipping blanks; returns how many records were added."""
        added = 0
        for line in lines:
            if not line.strip():
                continue
            record = parse_line(line)
            if record is None:
                self.malformed += 1
            else:
                self.records.append(record)
                added += 1
        return added

    def feed_text(self, text: str) -> int:
        return self.feed(text.splitlines())

    def count_by_level(self) -> dict[str, int]:
        counts = Counter(r.level for r in self.records)
        return {level: counts.get(level, 0) for level in LEVELS}

    def top_sources(self, n: int = 3) -> list[tuple[str, int]]:
        counts = Counter(r.source for r in self.records)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def per_hour(self, min_level: str = "ERROR") -> dict[str, int]:
        floor = severity(min_level)
        counts = Counter(r.hour_bucket for r in self.records if severity(r.level) >= floor)
        return dict(sorted(counts.items()))

    def filter(
        self,
        min_level: str | None = None,
        source: str | None = None,
        contains: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LogRecord]:
        result = self.records
        if min_level is not None:
            floor = severity(min_level)
            result = [r for r in result if severity(r.level) >= floor]
        if source is not None:
            result = [r for r in result if r.source == source]
        if contains is not None:
            needle = contains.lower()
            result = [r for r in result if needle in r.message.lower()]
        if since is not None:
            result = [r for r in result if r.timestamp >= since]
        if until is not None:
            result = [r for r in result if r.timestamp < until]
        return list(result)

    def field_counts(self, key: str) -> list[tuple[str, int]]:
        counts = Counter(r.fields[key] for r in self.records if key in r.fields)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def time_span(self) -> tuple[datetime, datetime] | None:
        if not self.records:
            return None
        stamps = [r.timestamp for r in self.records]
        return min(stamps), max(stamps)


def summarize(analyzer: LogAnalyzer) -> str:
    """Multi-line plain-text report."""
    lines = [f"records: {len(analyzer.records)} (malformed: {analyzer.malformed})"]
    lines += [f"{level}: {count}" for level, count in analyzer.count_by_level().items() if count]
    top = analyzer.top_sources(1)
    lines.append(f"top source: {top[0][0]} ({top[0][1]})" if top else "top source: none")
    return "\n".join(lines)
