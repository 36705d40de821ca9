"""The one shape every study's `results.json` shares, and its reader.

    {"schema": "cetd-results/1", "kind": "phase2", "run_id": ..., "confidence": 0.95,
     "row_sets": {"test": {"app_ids": [...],
                           "sources": {"gold": {"status": "measured", "n_apps": 8,
                                                "metrics": {"pass_rate": {"value": 0.6,
                                                                          "ci_low": 0.4,
                                                                          "ci_high": 0.8}}}}}},
     ...study-specific keys beside (comparisons, verdicts, per-app tables)}

Sources x row sets x metrics, each metric a value with its CI (None where not computed). The
dashboard reads only this table; the study modules (`cetd_lib.studies`) write it and own what
sits beside it. A results.json without `schema` predates this shape: `read_results_table` says
so instead of guessing among the older layouts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "cetd-results/1"
MEASURED = "measured"


class ResultsSchemaError(ValueError):
    """A results.json that is not (or not yet) in the shared shape."""


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return None


@dataclass(frozen=True)
class Estimate:
    """A metric's value with its confidence interval (None: not computed or NaN)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, value: Any, ci: tuple[Any, Any] | None = None) -> Estimate:
        low, high = ci if ci is not None else (None, None)
        return cls(_number(value), _number(low), _number(high))

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class SourceRow:
    """One source on one row set: `status` is MEASURED or why it was not (then no metrics)."""

    status: str = MEASURED
    n_apps: int = 0
    metrics: dict[str, Estimate] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.status == MEASURED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "n_apps": self.n_apps,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class RowSet:
    """The apps of one row set (a split, the holdout apps, an app family) and every source."""

    app_ids: tuple[str, ...]
    sources: dict[str, SourceRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "app_ids": list(self.app_ids),
            "sources": {k: v.to_dict() for k, v in self.sources.items()},
        }


@dataclass(frozen=True)
class ResultsTable:
    """What every study's results.json holds in common (see the module docstring)."""

    kind: str
    run_id: str
    confidence: float
    row_sets: dict[str, RowSet]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "run_id": self.run_id,
            "confidence": self.confidence,
            "row_sets": {k: v.to_dict() for k, v in self.row_sets.items()},
        }

    def metric(self, row_set: str, source: str, name: str = "pass_rate") -> Estimate | None:
        row = self.row_sets[row_set].sources.get(source)
        return row.metrics.get(name) if row is not None else None


def read_results_table(data: Mapping[str, Any], where: str = "results.json") -> ResultsTable:
    """The shared table of a parsed results.json; `where` names the file in errors."""
    schema = data.get("schema")
    if schema is None:
        raise ResultsSchemaError(
            f"{where}: written before the shared results schema ({SCHEMA}), so its numbers are "
            "not shown here; read the run's report.md, or re-run the study to get them here"
        )
    if schema != SCHEMA:
        raise ResultsSchemaError(f"{where}: schema {schema!r}; this version reads {SCHEMA!r}")
    try:
        row_sets = {
            name: RowSet(
                app_ids=tuple(block["app_ids"]),
                sources={
                    source: SourceRow(
                        status=str(row["status"]),
                        n_apps=int(row["n_apps"]),
                        metrics={
                            metric: Estimate.of(m["value"], (m["ci_low"], m["ci_high"]))
                            for metric, m in row["metrics"].items()
                        },
                    )
                    for source, row in block["sources"].items()
                },
            )
            for name, block in data["row_sets"].items()
        }
        return ResultsTable(
            kind=str(data["kind"]),
            run_id=str(data["run_id"]),
            confidence=float(data["confidence"]),
            row_sets=row_sets,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ResultsSchemaError(f"{where}: not a valid {SCHEMA} table (missing {exc})") from exc
