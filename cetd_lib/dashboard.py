"""One self-contained HTML dashboard over the run records under `outputs/runs/`.

`build_dashboard(outputs_dir)` writes `outputs/dashboard/index.html`: a runs table, per-run loss,
reward and metric curves (from `metrics.jsonl`), pass-rate distributions and pass rate by source
(from a Phase-2 run's `artifacts/evaluation-*.json`), ablation charts (from a run's
`results.json`), comparisons across runs, and an error analysis (failure classes, failing apps,
underperforming categories). Every plot is an inline base64 PNG and the CSS is inline: the file
has no script, no link and no external URL, so it opens from disk, offline, anywhere.

Matplotlib is used through `Figure` objects only (never `pyplot`), so building a dashboard does
not change the backend or the figures of the notebook that calls it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cetd_lib.config_field import help_field
from cetd_lib.monitor import grouped, metric_group, metric_series, split_phase
from cetd_lib.report import Criterion
from cetd_lib.tracking import RunRecord, list_runs, write_text_atomic


@dataclass(frozen=True)
class DashboardConfig:
    """Live metrics during training and the HTML dashboard built from run records."""

    print_every_s: float = help_field(
        "Headless: at most one metrics line per this many seconds (the last row is always shown "
        "on close).",
        default=30.0,
    )
    plot_every_s: float = help_field(
        "In a Jupyter kernel: redraw the live plot at most this often (seconds).", default=10.0
    )
    display: Literal["auto", "notebook", "text", "off"] = help_field(
        "Live view: 'auto' draws a plot in a Jupyter kernel and prints lines elsewhere.",
        default="auto",
    )
    tensorboard: Literal["auto", "on", "off"] = help_field(
        "Also write TensorBoard scalars under <run>/tensorboard: 'auto' when tensorboard is "
        "installed, 'on' fails if it is not.",
        default="auto",
    )
    underperforming_below: float = help_field(
        "Error analysis flags an app category whose mean pass rate is below this (default: the "
        "seed's pass-rate target).",
        default=0.5,
    )
    max_examples: int = help_field("Failing apps listed per failure class or category.", default=5)
    exclude_kinds: list[str] = help_field(
        "Run kinds left out of the dashboard (the dashboard notebook's own runs).",
        default_factory=lambda: ["dashboard"],
    )

    def __post_init__(self) -> None:
        if self.print_every_s < 0 or self.plot_every_s < 0:
            raise ValueError("print_every_s and plot_every_s must be >= 0 seconds")
        if not 0.0 <= self.underperforming_below <= 1.0:
            raise ValueError("underperforming_below is a pass rate: give a value in [0, 1]")
        if self.max_examples < 1:
            raise ValueError("max_examples must be at least 1")


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
MAX_PANELS = 24  # a run logging hundreds of keys still gives a readable page


def _figure(n_panels: int, *, cols: int = 3, width: float | None = None, height: float = 2.6):
    from matplotlib.figure import Figure

    cols = max(1, min(cols, n_panels))
    rows = max(1, math.ceil(n_panels / cols))
    width = width if width is not None else min(11.5, 3.7 * cols)  # one panel stays small
    fig = Figure(figsize=(width, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes[:n_panels])


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def lines_figure(
    panels: Mapping[str, Mapping[str, tuple[Sequence[int], Sequence[float]]]], title: str = ""
) -> Any:
    """panel title -> {line label: (steps, values)}: one small line plot per panel."""
    names = list(panels)[:MAX_PANELS]
    fig, axes = _figure(len(names) or 1)
    for ax, name in zip(axes, names, strict=False):
        for i, (label, (steps, values)) in enumerate(panels[name].items()):
            ax.plot(
                steps,
                values,
                marker="o" if len(steps) < 12 else None,
                ms=3,
                lw=1.4,
                color=PALETTE[i % len(PALETTE)],
                label=label,
            )
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", useOffset=False)  # "+1.08e1" offsets hide the values
        ax.set_xlabel("step", fontsize=7)
        ax.grid(alpha=0.3)
        if len(panels[name]) > 1:
            ax.legend(fontsize=6)
    if not names:
        axes[0].text(0.5, 0.5, "no metrics logged yet", ha="center", va="center")
        axes[0].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def metrics_figure(
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    keys: Iterable[str] | None = None,
    *,
    per: Literal["group", "key"] = "group",
    title: str = "",
) -> Any:
    """Line plots of metric series: one panel per group (a line per key) or one per key."""
    keys = sorted(keys if keys is not None else series)
    if per == "group":
        panels = {
            group: {k.removeprefix(f"{group}/"): series[k] for k in members}
            for group, members in grouped(keys).items()
        }
    else:
        panels = {k: {k: series[k]} for k in keys}
    return lines_figure(panels, title)


def pass_rate_figure(pass_rates: Mapping[str, Sequence[float]]) -> Any:
    """Histogram of per-app pass rates, one panel per source."""
    fig, axes = _figure(len(pass_rates), cols=4, height=2.2)
    for i, (ax, (source, values)) in enumerate(zip(axes, pass_rates.items(), strict=True)):
        ax.hist(values, bins=10, range=(0, 1), color=PALETTE[i % len(PALETTE)], alpha=0.8)
        ax.set_title(f"{source} (n={len(values)})", fontsize=9)
        ax.set_xlabel("pass rate", fontsize=7)
        ax.set_ylabel("apps", fontsize=7)
        ax.tick_params(labelsize=7)
    return fig


def bars_with_ci_figure(rows: Sequence[SourceBar], title: str) -> Any:
    """Mean pass rate per source with its confidence interval as error bars."""
    fig, (ax,) = _figure(1, cols=1, width=max(4.0, 1.1 * len(rows) + 2), height=2.8)
    names = [r.source for r in rows]
    means = [r.pass_rate for r in rows]
    low = [max(0.0, r.pass_rate - r.low) if r.low is not None else 0.0 for r in rows]
    high = [max(0.0, r.high - r.pass_rate) if r.high is not None else 0.0 for r in rows]
    bars = ax.bar(names, means, yerr=[low, high], capsize=4, color=PALETTE[: len(rows)] or None)
    ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)  # a 0.00 bar is otherwise invisible
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pass rate", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    return fig


def failure_figure(failures: Mapping[str, Mapping[str, int]]) -> Any:
    """Failed tests per failure class, one horizontal bar group per source."""
    classes = sorted({c for counts in failures.values() for c in counts})
    fig, (ax,) = _figure(1, cols=1, width=8, height=0.35 * len(classes) * len(failures) + 1.2)
    height = 0.8 / max(1, len(failures))
    for i, (source, counts) in enumerate(failures.items()):
        ys = [j + i * height for j in range(len(classes))]
        ax.barh(
            ys,
            [counts.get(c, 0) for c in classes],
            height=height,
            label=source,
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(classes))], classes, fontsize=7)
    ax.set_xlabel("failed tests", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    return fig


def runs_bar_figure(values: Mapping[str, Mapping[str, float]]) -> Any:
    """key -> {run_id: value}: one panel per summary key, one bar per run (in start order)."""
    fig, axes = _figure(len(values), cols=3, height=2.6)
    for ax, (key, per_run) in zip(axes, values.items(), strict=True):
        labels = [_short(r) for r in per_run]
        values = list(per_run.values())
        bars = ax.bar(labels, values, color=PALETTE[0])
        ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)  # zeros are bars of no height
        if min(values) >= 0:
            ax.set_ylim(0, 1.15 * max(values) if max(values) > 0 else 1.0)
        ax.set_title(key, fontsize=9)
        ax.tick_params(axis="x", labelsize=6, rotation=30)
        ax.tick_params(axis="y", labelsize=7)
    return fig


def _short(run_id: str) -> str:
    return run_id if len(run_id) <= 22 else "…" + run_id[-20:]


# ---------------------------------------------------------------------------------------------
# Reading run records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceBar:
    source: str
    pass_rate: float
    low: float | None = None
    high: float | None = None


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
        results=_read_json(results_path) if results_path.exists() else {},
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
    from cetd_lib.metrics import bootstrap_ci

    bars = []
    for source, ev in evaluations.items():
        values = _finite((ev.get("pass_rates") or {}).values())
        if values:
            low, high = bootstrap_ci(values, seed=seed)
            bars.append(SourceBar(source, sum(values) / len(values), low, high))
    return bars


def ablation_bars(results: Mapping[str, Any]) -> list[SourceBar]:
    """Pass rate per source from a run's results.json, with CIs where recorded.

    Reads the first block (`ablation`, `pass_rates`, `summary`, `sources`, `by_source`, then any
    other top-level value) shaped as `{name: {"pass_rate"|"mean": x, "ci_low": lo, "ci_high": hi}}`
    (or `"ci": [lo, hi]`), or as a list of such rows with a `source` key. Unmeasured rows (None)
    are skipped.
    """
    preferred = ("ablation", "pass_rates", "summary", "sources", "by_source")
    keys = [k for k in preferred if k in results] + [k for k in results if k not in preferred]
    for key in keys:
        block = results[key]
        if isinstance(block, Mapping):
            items = [{"source": n, **row} for n, row in block.items() if isinstance(row, dict)]
        elif isinstance(block, list):
            items = [row for row in block if isinstance(row, dict)]
        else:
            continue
        bars = []
        for row in items:
            value = row.get("pass_rate", row.get("mean"))
            if not isinstance(value, (int, float)) or math.isnan(value):
                continue
            ci = row.get("ci") or row.get("pass_rate_ci") or (row.get("ci_low"), row.get("ci_high"))
            low, high = (_finite_or_none(v) for v in (list(ci) + [None, None])[:2])
            bars.append(SourceBar(str(row.get("source", "?")), float(value), low, high))
        if bars:
            return bars
    return []


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not math.isnan(value):
        return float(value)
    return None


# ---------------------------------------------------------------------------------------------
# Error analysis
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

CSS = """
.cetd-dashboard { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  max-width: 1150px; margin: 0 auto; padding: 12px; font-size: 14px; }
.cetd-dashboard h1 { font-size: 22px; margin: 4px 0; }
.cetd-dashboard h2 { font-size: 18px; border-bottom: 2px solid #ddd; padding-bottom: 3px;
  margin-top: 28px; }
.cetd-dashboard h3 { font-size: 15px; margin: 18px 0 6px; }
.cetd-dashboard table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12px; }
.cetd-dashboard th, .cetd-dashboard td { border: 1px solid #ccc; padding: 3px 7px;
  text-align: left; vertical-align: top; }
.cetd-dashboard th { background: #f3f3f3; }
.cetd-dashboard img { max-width: 100%; display: block; margin: 6px 0; }
.cetd-dashboard .muted { color: #777; }
.cetd-dashboard .flag { color: #b00020; font-weight: 600; }
.cetd-dashboard .ok { color: #17702d; font-weight: 600; }
.cetd-dashboard .status-completed { color: #17702d; }
.cetd-dashboard .status-failed { color: #b00020; font-weight: 600; }
.cetd-dashboard .status-running { color: #b36b00; }
.cetd-dashboard .empty { padding: 24px; background: #f7f7f7; border: 1px dashed #bbb; }
.cetd-dashboard details { margin: 4px 0 10px; }
.cetd-dashboard summary { cursor: pointer; font-weight: 600; }
.cetd-dashboard ol { margin: 2px 0; padding-left: 22px; font-size: 12px; }
"""

BEGIN, END = "<!-- cetd-dashboard:begin -->", "<!-- cetd-dashboard:end -->"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _when(stamp: str | None) -> str:
    """'2026-11-23T11:17:19+00:00' -> '2026-11-23 11:17:19' (every stamp is UTC)."""
    return (stamp or "—").replace("T", " ").removesuffix("+00:00")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Cells are HTML already (callers escape)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_numbers(summary: Mapping[str, Any], limit: int = 6) -> dict[str, float]:
    """The run's headline numbers: top-level numeric summary values (booleans left out)."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value
        if len(out) == limit:
            break
    return out


def _criteria(summary: Mapping[str, Any]) -> list[Criterion]:
    """`summary["criteria"]` as Criterion objects: verdicts recomputed from target and value."""
    out = []
    for item in summary.get("criteria") or []:
        if isinstance(item, dict) and isinstance(item.get("target"), (int, float)):
            value = item.get("value")
            value = float(value) if isinstance(value, (int, float)) else None
            out.append(Criterion(str(item.get("name", "?")), float(item["target"]), value))
    return out


def _verdicts(summary: Mapping[str, Any]) -> str:
    criteria = _criteria(summary)
    if not criteria:
        return "—"
    met = sum(c.verdict == "met" for c in criteria)
    missed = sum(c.verdict == "missed" for c in criteria)
    return f'<span class="ok">{met} met</span> / <span class="flag">{missed} missed</span>'


def runs_table(runs: Sequence[RunView]) -> str:
    rows = []
    for run in runs:
        numbers = ", ".join(f"{_e(k)}={_fmt(v)}" for k, v in summary_numbers(run.summary).items())
        rows.append(
            [
                f'<a href="#{_e(run.run_id)}">{_e(run.run_id)}</a>',
                _e(run.kind),
                f'<span class="status-{_e(run.status)}">{_e(run.status)}</span>',
                _e(_when(run.started_at)),
                _e(_when(run.ended_at)),
                duration_text(run.wall_time_s),
                numbers or '<span class="muted">—</span>',
                _verdicts(run.summary),
            ]
        )
    return _table(
        [
            "run",
            "kind",
            "status",
            "started (UTC)",
            "ended",
            "wall time",
            "key numbers",
            "seed targets",
        ],
        rows,
    )


def _criteria_html(summary: Mapping[str, Any]) -> str:
    rows = []
    for c in _criteria(summary):
        css = {"met": "ok", "missed": "flag"}.get(c.verdict, "muted")
        rows.append(
            [
                _e(c.name),
                f"&gt; {_fmt(c.target)}",
                _fmt(c.value),
                f'<span class="{css}">{_e(c.verdict)}</span>',
            ]
        )
    if not rows:
        return ""
    return "<h3>Seed targets</h3>" + _table(["criterion", "target", "measured", "verdict"], rows)


def _trend_rank(key: str) -> tuple[int, str]:
    """Evaluation, throughput, then the RL health signals (guard leak rate, kill rate) before
    per-rule counters, clip ratios and completion lengths: past MAX_PANELS the rest is cut."""
    group, rest = metric_group(key), split_phase(key)[1]
    rank = {"eval": 0, "charts": 1, "guard": 2, "kill_rate": 2}.get(group, 3)
    if rest.startswith("guard/rule/"):
        rank = 4
    return rank, key


def _curves_html(run: RunView) -> str:
    """Loss and reward curves, then metric trends per training phase (stage1, stage2, ...),
    then a table of the metrics logged once (a line plot of one point says nothing)."""
    series = run.series
    if not series:
        return '<p class="muted">No numeric metrics logged (metrics.jsonl is empty).</p>'
    parts = []
    trends = [k for k in series if metric_group(k) not in ("losses", "rewards")]
    once = sorted(k for k in trends if len(series[k][0]) < 2)
    trends = [k for k in trends if len(series[k][0]) >= 2]
    sections = [
        ("Loss curves", [k for k in series if metric_group(k) == "losses"]),
        ("Reward curves", [k for k in series if metric_group(k) == "rewards"]),
    ]
    for phase in sorted({split_phase(k)[0] for k in trends}):
        keys = [k for k in trends if split_phase(k)[0] == phase]
        keys.sort(key=_trend_rank)
        sections.append(("Metric trends" + (f": {phase}" if phase else ""), keys))
    for title, keys in sections:
        if keys:
            note = (
                f' <span class="muted">(first {MAX_PANELS} of {len(keys)} keys)</span>'
                if len(keys) > MAX_PANELS
                else ""
            )
            fig = metrics_figure(series, keys[:MAX_PANELS], per="key")
            parts.append(f"<h3>{title}{note}</h3>" + _img(fig, f"{title} of {run.run_id}"))
    if once:
        rows = [[_e(k), str(series[k][0][0]), _fmt(series[k][1][0])] for k in once]
        parts.append("<h3>Logged once</h3>" + _table(["metric", "step", "value"], rows))
    return "".join(parts)


def _evaluations_html(run: RunView) -> str:
    parts = []
    if run.evaluations:
        distributions = {
            s: _finite((ev.get("pass_rates") or {}).values()) for s, ev in run.evaluations.items()
        }
        distributions = {s: v for s, v in distributions.items() if v}
        if distributions:
            parts.append(
                "<h3>Pass-rate distributions</h3>"
                + _img(pass_rate_figure(distributions), "pass-rate histograms")
            )
        bars = source_bars(run.evaluations)
        if bars:
            parts.append(
                "<h3>Pass rate by source</h3>"
                + _img(
                    bars_with_ci_figure(bars, "mean over apps, 95% bootstrap CI"),
                    "pass rate by source",
                )
            )
    ablation = ablation_bars(run.results)
    if run.evaluations and not any(b.low is not None for b in ablation):
        ablation = []  # the bars above already show these sources, with bootstrap CIs
    if ablation:
        rows = [
            [_e(b.source), _fmt(b.pass_rate), f"[{_fmt(b.low)}, {_fmt(b.high)}]"] for b in ablation
        ]
        parts.append(
            "<h3>Ablation: pass rate by requirement source</h3>"
            + _img(
                bars_with_ci_figure(ablation, "pass rate with CI (from results.json)"),
                "ablation chart",
            )
            + _table(["source", "pass rate", "CI"], rows)
        )
    return "".join(parts)


def _app_cell(app: FailingApp) -> list[str]:
    reqs = app.requirements[:3]
    if reqs:
        items = "".join(f"<li>{_e(r[:200] + ('…' if len(r) > 200 else ''))}</li>" for r in reqs)
        more = (
            f'<span class="muted">… {len(app.requirements) - 3} more</span>'
            if len(app.requirements) > 3
            else ""
        )
        written = f"<ol>{items}</ol>{more}"
    else:
        written = '<span class="flag">no requirements written</span>'
    classes = ", ".join(f"{_e(c)}×{n}" for c, n in sorted(app.failure_counts.items())) or "—"
    return [
        _e(app.app_id),
        _e(app.category),
        _fmt(app.pass_rate),
        _e(app.label or "—"),
        classes,
        written,
    ]


APP_HEADERS = [
    "app",
    "category",
    "pass rate",
    "label",
    "failed tests by class",
    "requirements written (first 3)",
]


def task_error_analysis_html(analysis: dict[str, Any]) -> str:
    """A multi-task run's `results.json["error_analysis"]`: per task its metric, the failure
    classes of failing samples or the flagged labels/CWEs, and failing examples."""
    rows = []
    for task, block in analysis.items():
        grouped = block.get("failure_classes") or {}
        flagged = block.get("flagged") or []
        where = ", ".join(f"{_e(c)} × {n}" for c, n in grouped.items()) or ", ".join(
            f"{_e(f['kind'])} {_e(f['name'])} (F1 {_fmt(f['f1'])}, n={f['support']})"
            for f in flagged[:8]
        )
        flag = '<span class="flag">underperforming</span>' if block.get("underperforming") else ""
        rows.append(
            [_e(task), f"{_e(block.get('metric', ''))} {_fmt(block.get('value'))}", where, flag]
        )
    examples = [
        f"<details><summary>{_e(task)}: {_e(x['id'])} ({_e(x['failure_class'])})</summary>"
        f"<pre>{_e(x['text'])}</pre></details>"
        for task, block in analysis.items()
        for x in block.get("examples", [])
    ]
    return _table(["task", "metric", "failures by class / flagged categories", ""], rows) + "".join(
        examples
    )


def _error_analysis_html(run: RunView, config: DashboardConfig) -> str:
    parts = []
    failure_totals = {s: ev.get("failure_counts") or {} for s, ev in run.evaluations.items()}
    failure_totals = {s: c for s, c in failure_totals.items() if c}
    if failure_totals:
        parts.append(
            "<h4>Failed tests by failure class</h4>"
            + _img(failure_figure(failure_totals), "failure classes by source")
        )
    for source, evaluation in run.evaluations.items():
        analysis = error_analysis(
            evaluation, threshold=config.underperforming_below, max_examples=config.max_examples
        )
        n_failing = sum(len(v) for v in analysis.by_category.values())
        flagged = [c for c in analysis.categories if c.underperforming]
        head = (
            f"source <b>{_e(source)}</b>: {n_failing} failing app(s) shown, "
            f"{len(flagged)} underperforming categor{'y' if len(flagged) == 1 else 'ies'}"
        )
        body = [
            _table(
                ["category", "apps", "mean pass rate", "flag"],
                (
                    [
                        _e(c.category),
                        str(c.n_apps),
                        _fmt(c.mean_pass_rate),
                        f'<span class="flag">below {config.underperforming_below:g}</span>'
                        if c.underperforming
                        else '<span class="ok">ok</span>',
                    ]
                    for c in analysis.categories
                ),
            )
        ]
        if analysis.per_app_classes:
            for failure_class, apps in analysis.by_class.items():
                body.append(
                    f"<h4>{_e(failure_class)}</h4>"
                    + _table(APP_HEADERS, (_app_cell(a) for a in apps))
                )
        else:
            totals = ", ".join(f"{_e(c)}: {n}" for c, n in sorted(analysis.failure_counts.items()))
            body.append(
                f'<p class="muted">Failed tests by class (whole source): {totals or "none"}.'
                " Per-app classes were not recorded (no failure_counts_by_app).</p>"
            )
        for category, apps in analysis.by_category.items():
            body.append(
                f"<h4>Failing apps in {_e(category)}</h4>"
                + _table(APP_HEADERS, (_app_cell(a) for a in apps))
            )
        if not n_failing:
            body.append('<p class="ok">Every app at or above the threshold.</p>')
        is_open = " open" if source not in ("gold",) and flagged else ""
        parts.append(f"<details{is_open}><summary>{head}</summary>{''.join(body)}</details>")
    return "".join(parts)


def _across_runs_html(runs: Sequence[RunView]) -> str:
    if len(runs) < 2:
        return ""
    parts = []
    by_key: dict[str, dict[str, float]] = {}
    for run in runs:
        for key, value in summary_numbers(run.summary, limit=50).items():
            by_key.setdefault(key, {})[run.run_id] = float(value)
    shared = {k: v for k, v in by_key.items() if len(v) >= 2}
    if shared:
        keys = sorted(shared, key=lambda k: -len(shared[k]))[:9]
        parts.append(
            "<h3>Summary numbers by run</h3>"
            + _img(runs_bar_figure({k: shared[k] for k in keys}), "summary by run")
        )
    panels: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for run in runs:
        for key, values in run.series.items():
            if metric_group(key) == "losses":
                panels.setdefault(key, {})[_short(run.run_id)] = values
    panels = {k: v for k, v in panels.items() if len(v) >= 2}  # only keys to compare
    if panels:
        parts.append(
            "<h3>Loss curves across runs</h3>"
            + _img(lines_figure(dict(sorted(panels.items()))), "losses across runs")
        )
    return "<h2>Across runs</h2>" + "".join(parts) if parts else ""


def render_dashboard(
    runs: Sequence[RunView], config: DashboardConfig | None = None, *, source: str = ""
) -> str:
    """The whole HTML document for `runs` (an empty list gives a page saying so)."""
    config = config or DashboardConfig()
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = [
        f"<h1>CET-D training dashboard</h1><p class='muted'>{len(runs)} run(s) from "
        f"{_e(source)} · generated {generated} UTC</p>"
    ]
    if not runs:
        out.append(
            f'<div class="empty">No run records under {_e(source)} yet. Run a notebook '
            "(e.g. <code>python -m cetd_lib run notebooks/phase2.ipynb --params "
            "params/smoke.yaml</code>) and rebuild the dashboard.</div>"
        )
    else:
        out.append("<h2>Runs</h2>" + runs_table(runs))
        out.append(_across_runs_html(runs))
        for run in runs:
            out.append(
                f'<h2 id="{_e(run.run_id)}">{_e(run.run_id)} '
                f'<span class="muted">({_e(run.kind)}, '
                f'<span class="status-{_e(run.status)}">{_e(run.status)}</span>)</span></h2>'
            )
            out.append(_criteria_html(run.summary))
            out.append(_curves_html(run))
            out.append(_evaluations_html(run))
            if run.evaluations:
                out.append("<h3>Error analysis</h3>" + _error_analysis_html(run, config))
            if run.results.get("error_analysis"):
                out.append(
                    "<h3>Error analysis by task</h3>"
                    + task_error_analysis_html(run.results["error_analysis"])
                )
    body = "\n".join(p for p in out if p)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>CET-D dashboard</title></head><body>\n"
        f"{BEGIN}<div class='cetd-dashboard'><style>{CSS}</style>\n{body}\n</div>{END}\n"
        "</body></html>\n"
    )


def build_dashboard(
    outputs_dir: str | Path,
    run_ids: Sequence[str] | None = None,
    out_path: str | Path | None = None,
    *,
    config: DashboardConfig | None = None,
) -> Path:
    """Write the dashboard for `run_ids` (default: every run) to `out_path` atomically.

    Default `out_path`: `<outputs_dir>/dashboard/index.html`. Returns the path written.
    """
    config = config or DashboardConfig()
    runs = load_runs(outputs_dir, run_ids, exclude_kinds=config.exclude_kinds)
    path = (
        Path(out_path) if out_path is not None else Path(outputs_dir) / "dashboard" / "index.html"
    )
    write_text_atomic(path, render_dashboard(runs, config, source=str(Path(outputs_dir))))
    return path


def notebook_html(path: str | Path) -> str:
    """The dashboard's body (scoped CSS included) for `IPython.display.HTML` in a notebook."""
    text = Path(path).read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        raise ValueError(f"{path}: not a dashboard written by cetd_lib.dashboard.build_dashboard")
    return text[start : end + len(END)]


def latest_table_html(latest: Mapping[str, float], step: int | None) -> str:
    """The live view's table: latest value per key, grouped by prefix."""
    rows = [
        [_e(group), _e(key), _fmt(latest[key])]
        for group, keys in grouped(latest).items()
        for key in keys
    ]
    return (
        f"<div class='cetd-dashboard'><b>step {step}</b>"
        + _table(["group", "metric", "latest"], rows)
        + "</div>"
    )
