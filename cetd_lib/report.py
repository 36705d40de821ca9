"""Markdown reports and the seed's success criteria, reported as met or missed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cetd_lib.tracking import write_text_atomic


@dataclass(frozen=True)
class Criterion:
    name: str
    target: float
    value: float | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "not measured"
        return "met" if self.value > self.target else "missed"


def criteria_table(criteria: list[Criterion]) -> str:
    lines = ["| criterion | target | measured | verdict |", "|---|---|---|---|"]
    for c in criteria:
        measured = "—" if c.value is None else f"{c.value:.3f}"
        lines.append(f"| {c.name} | > {c.target:g} | {measured} | **{c.verdict}** |")
    return "\n".join(lines)


def write_report(path: Path, title: str, sections: dict[str, str]) -> Path:
    body = [f"# {title}", ""]
    for heading, text in sections.items():
        body += [f"## {heading}", "", text.rstrip(), ""]
    write_text_atomic(path, "\n".join(body))
    return path
