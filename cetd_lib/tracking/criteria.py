"""Success criteria: a measured value against a target, with the verdict a report prints."""

from __future__ import annotations

import math
from dataclasses import dataclass


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
