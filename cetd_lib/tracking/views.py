"""Run records as the dashboard and reports read them: one view per run, sources with CIs,
and the error analysis (which apps fail, how, in which category).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cetd_lib.tracking.figures import SourceBar
from cetd_lib.tracking.results import (
    ResultsSchemaError,
    ResultsTable,
    RowSet,
    read_results_table,
)
from cetd_lib.tracking.runs import RunRecord, list_runs
from cetd_lib.tracking.series import metric_series


@dataclass(frozen=True)
class RunView:
    """What the dashboard and the training report read from one run directory."""

    run_id: str
    dir: Path
    kind: str
    status: str
    started_at: str | None
    ended_at: str | None
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    evaluations: dict[str, dict[str, Any]]  # source -> artifacts/evaluation-<source>.json
    results: dict[str, Any]  # results.json, {} when absent
    table: ResultsTable | None = None  # its shared table (tracking.results), when it has one
    results_note: str = ""  # why a results.json present is not shown (written before the table)

    @property
    def wall_time_s(self) -> float | None:
        try:
            start = dt.datetime.fromisoformat(self.started_at or "")
            end = dt.datetime.fromisoformat(self.ended_at or "")
        except ValueError:
            return None
        return (end - start).total_seconds()

    @property
    def series(self) -> dict[str, tuple[list[int], list[float]]]:
        return metric_series(self.rows)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); the dashboard cannot read it") from exc


def load_run_view(record: RunRecord) -> RunView:
    manifest = record.manifest()
    evaluations = {}
    for path in sorted((record.dir / "artifacts").glob("evaluation-*.json")):
        evaluations[path.stem.removeprefix("evaluation-")] = _read_json(path)
    results_path = record.dir / "results.json"
    results = _read_json(results_path) if results_path.exists() else {}
    table, note = None, ""
    if results:
        try:
            table = read_results_table(results, str(results_path))
        except ResultsSchemaError as exc:
            note = str(exc)
    return RunView(
        run_id=record.run_id,
        dir=record.dir,
        kind=str(manifest.get("kind", "run")),
        status=str(manifest.get("status", "unknown")),
        started_at=manifest.get("started_at"),
        ended_at=manifest.get("ended_at"),
        summary=record.summary(),
        rows=record.metrics(),
        evaluations=evaluations,
        results=results,
        table=table,
        results_note=note,
    )


def load_runs(
    outputs_dir: str | Path,
    run_ids: Sequence[str] | None = None,
    exclude_kinds: Sequence[str] = ("dashboard",),
) -> list[RunView]:
    """Run views in start order; `run_ids` picks runs (an unknown id is an error)."""
    records = {r.run_id: r for r in list_runs(outputs_dir)}
    if run_ids is not None:
        unknown = [r for r in run_ids if r not in records]
        if unknown:
            raise KeyError(
                f"no run record for {unknown} under {Path(outputs_dir) / 'runs'}; "
                f"known runs: {sorted(records) or 'none'}"
            )
        chosen = [records[r] for r in run_ids]
    else:
        chosen = list(records.values())
    views = [load_run_view(r) for r in chosen]
    if run_ids is None:
        views = [v for v in views if v.kind not in exclude_kinds]
    return sorted(views, key=lambda v: (v.started_at or "", v.run_id))


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not math.isnan(v)]


def source_bars(evaluations: Mapping[str, Mapping[str, Any]], seed: int = 0) -> list[SourceBar]:
    """Mean per-app pass rate per source with a 95% percentile-bootstrap CI over apps."""
    from cetd_lib.metrics.bleu import bootstrap_ci

    bars = []
    for source, ev in evaluations.items():
        values = _finite((ev.get("pass_rates") or {}).values())
        if values:
            low, high = bootstrap_ci(values, seed=seed)
            bars.append(SourceBar(source, sum(values) / len(values), low, high))
    return bars


def chart_metric(block: RowSet) -> str | None:
    """What a row set's chart shows: `pass_rate` when recorded, else the first metric with a
    CI (a review's win rate), else None (nothing to chart with intervals)."""
    rows = [row for row in block.sources.values() if row.measured]
    if any("pass_rate" in row.metrics for row in rows):
        return "pass_rate"
    for row in rows:
        for name, value in row.metrics.items():
            if value.ci_low is not None:
                return name
    return None


def table_bars(table: ResultsTable) -> dict[str, tuple[str, list[SourceBar]]]:
    """row set -> (metric, one bar per measured source with its CI), from the shared table;
    the metric is `chart_metric`'s, row sets without one are left out."""
    out = {}
    for row_set, block in table.row_sets.items():
        metric = chart_metric(block)
        if metric is None:
            continue
        bars = []
        for source, row in block.sources.items():
            value = row.metrics.get(metric)
            if row.measured and value is not None and value.value is not None:
                bars.append(SourceBar(source, value.value, value.ci_low, value.ci_high))
        if bars:
            out[row_set] = (metric, bars)
    return out


def app_category(app_id: str, evaluation: Mapping[str, Any]) -> str:
    """The evaluation's `categories[app_id]` when recorded, else the app's origin from its id."""
    categories = evaluation.get("categories") or {}
    if app_id in categories:
        return str(categories[app_id])
    return "humaneval" if app_id.startswith("humaneval_") else "bundled"


@dataclass(frozen=True)
class FailingApp:
    app_id: str
    category: str
    pass_rate: float | None  # None: not scoreable
    label: str
    requirements: list[str]
    failure_counts: dict[str, int]  # empty when the evaluation has no per-app classes


@dataclass(frozen=True)
class CategoryStat:
    category: str
    n_apps: int
    mean_pass_rate: float
    underperforming: bool


@dataclass(frozen=True)
class ErrorAnalysis:
    source: str
    failure_counts: dict[str, int]  # over every app of the source
    by_class: dict[str, list[FailingApp]]  # failure class -> failing apps, most failures first
    by_category: dict[str, list[FailingApp]]  # category ("task") -> failing apps, worst first
    categories: list[CategoryStat]
    per_app_classes: bool  # whether the evaluation recorded failure classes per app


def error_analysis(
    evaluation: Mapping[str, Any], *, threshold: float = 0.5, max_examples: int = 5
) -> ErrorAnalysis:
    """Failing apps (pass rate below `threshold`, or unscoreable) grouped by failure class and by
    category, and categories whose mean pass rate is below `threshold` flagged.

    Per-app failure classes come from `failure_counts_by_app` when the evaluation records it;
    otherwise only the source's total `failure_counts` is known.
    """
    pass_rates = evaluation.get("pass_rates") or {}
    labels = {
        a["app_id"]: a.get("label", "")
        for a in (evaluation.get("reconstruction") or {}).get("apps", [])
        if "app_id" in a
    }
    by_app = evaluation.get("failure_counts_by_app") or {}
    requirements = evaluation.get("requirements") or {}
    failing: list[FailingApp] = []
    per_category: dict[str, list[float]] = {}
    for app_id, value in pass_rates.items():
        category = app_category(app_id, evaluation)
        scored = isinstance(value, (int, float)) and not math.isnan(value)
        if scored:
            per_category.setdefault(category, []).append(float(value))
        if not scored or value < threshold:
            failing.append(
                FailingApp(
                    app_id=app_id,
                    category=category,
                    pass_rate=float(value) if scored else None,
                    label=labels.get(app_id, "UNSCORED" if not scored else ""),
                    requirements=list(requirements.get(app_id, [])),
                    failure_counts=dict(by_app.get(app_id, {})),
                )
            )
    failing.sort(key=lambda a: (a.pass_rate if a.pass_rate is not None else -1.0, a.app_id))
    by_class: dict[str, list[FailingApp]] = {}
    for failure_class in sorted({c for a in failing for c in a.failure_counts}):
        apps = [a for a in failing if a.failure_counts.get(failure_class)]
        apps.sort(key=lambda a: -a.failure_counts[failure_class])
        by_class[failure_class] = apps[:max_examples]
    by_category: dict[str, list[FailingApp]] = {}
    for app in failing:
        by_category.setdefault(app.category, []).append(app)
    categories = [
        CategoryStat(
            name, len(values), sum(values) / len(values), sum(values) / len(values) < threshold
        )
        for name, values in sorted(per_category.items())
    ]
    return ErrorAnalysis(
        source=str(evaluation.get("source", "?")),
        failure_counts=dict(evaluation.get("failure_counts") or {}),
        by_class=by_class,
        by_category={k: v[:max_examples] for k, v in sorted(by_category.items())},
        categories=categories,
        per_app_classes=bool(by_app),
    )
