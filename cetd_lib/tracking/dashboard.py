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

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cetd_lib.config_field import help_field
from cetd_lib.tracking.criteria import Criterion
from cetd_lib.tracking.figures import (
    MAX_PANELS,
    _img,
    _short,
    bars_with_ci_figure,
    failure_figure,
    lines_figure,
    metrics_figure,
    pass_rate_figure,
    runs_bar_figure,
)
from cetd_lib.tracking.html import esc, fmt, table
from cetd_lib.tracking.results import ResultsTable
from cetd_lib.tracking.runs import write_text_atomic
from cetd_lib.tracking.series import metric_group, split_phase
from cetd_lib.tracking.views import (
    FailingApp,
    RunView,
    _finite,
    error_analysis,
    load_runs,
    source_bars,
    table_bars,
)


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


# ---------------------------------------------------------------------------------------------
# Reading run records
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Error analysis
# ---------------------------------------------------------------------------------------------


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


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _when(stamp: str | None) -> str:
    """'2026-11-23T11:17:19+00:00' -> '2026-11-23 11:17:19' (every stamp is UTC)."""
    return (stamp or "—").replace("T", " ").removesuffix("+00:00")


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
        numbers = ", ".join(f"{esc(k)}={fmt(v)}" for k, v in summary_numbers(run.summary).items())
        rows.append(
            [
                f'<a href="#{esc(run.run_id)}">{esc(run.run_id)}</a>',
                esc(run.kind),
                f'<span class="status-{esc(run.status)}">{esc(run.status)}</span>',
                esc(_when(run.started_at)),
                esc(_when(run.ended_at)),
                duration_text(run.wall_time_s),
                numbers or '<span class="muted">—</span>',
                _verdicts(run.summary),
            ]
        )
    return table(
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
                esc(c.name),
                f"&gt; {fmt(c.target)}",
                fmt(c.value),
                f'<span class="{css}">{esc(c.verdict)}</span>',
            ]
        )
    if not rows:
        return ""
    return "<h3>Seed targets</h3>" + table(["criterion", "target", "measured", "verdict"], rows)


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
        rows = [[esc(k), str(series[k][0][0]), fmt(series[k][1][0])] for k in once]
        parts.append("<h3>Logged once</h3>" + table(["metric", "step", "value"], rows))
    return "".join(parts)


def _evaluations_html(run: RunView) -> str:
    """Pass rates by source per row set from results.json's shared table; a run without one
    (or from before it) shows its artifacts/evaluation-*.json instead, and says why."""
    parts = []
    if run.results_note:
        parts.append(f'<p class="flag">{esc(run.results_note)}</p>')
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
        if bars and run.table is None:
            parts.append(
                "<h3>Pass rate by source</h3>"
                + _img(
                    bars_with_ci_figure(bars, "mean over apps, 95% bootstrap CI"),
                    "pass rate by source",
                )
            )
    if run.table is not None:
        parts.append(_table_html(run.table))
    return "".join(parts)


def _chart(row_set: str, metric: str, bars: list, confidence: float) -> str:
    name = metric.replace("_", " ")
    figure = bars_with_ci_figure(bars, f"{name}, {confidence:.0%} CI (results.json)")
    return _img(figure, f"{name} by source, {row_set}")


def _table_html(results: ResultsTable) -> str:
    """Per row set: a chart of the pass rate (or another metric with CIs) by source, and every
    metric of every source."""
    parts = []
    charts = table_bars(results)
    for row_set, block in results.row_sets.items():
        metrics = sorted({m for row in block.sources.values() for m in row.metrics})
        rows = []
        for source, row in block.sources.items():
            if not row.measured:
                rows.append(
                    [esc(source), f'<span class="muted">{esc(row.status)}</span>']
                    + [""] * len(metrics)
                )
                continue
            cells = []
            for name in metrics:
                e = row.metrics.get(name)
                value = fmt(e.value) if e is not None else "—"
                if e is not None and e.ci_low is not None:
                    value += f" [{fmt(e.ci_low)}, {fmt(e.ci_high)}]"
                cells.append(value)
            rows.append([esc(source), str(row.n_apps), *cells])
        parts.append(
            f"<h3>Results by source: {esc(row_set)} ({len(block.app_ids)} apps)</h3>"
            + (_chart(row_set, *charts[row_set], results.confidence) if row_set in charts else "")
            + table(["source", "apps", *map(esc, metrics)], rows)
        )
    return "".join(parts)


def _app_cell(app: FailingApp) -> list[str]:
    reqs = app.requirements[:3]
    if reqs:
        items = "".join(f"<li>{esc(r[:200] + ('…' if len(r) > 200 else ''))}</li>" for r in reqs)
        more = (
            f'<span class="muted">… {len(app.requirements) - 3} more</span>'
            if len(app.requirements) > 3
            else ""
        )
        written = f"<ol>{items}</ol>{more}"
    else:
        written = '<span class="flag">no requirements written</span>'
    classes = ", ".join(f"{esc(c)}×{n}" for c, n in sorted(app.failure_counts.items())) or "—"
    return [
        esc(app.app_id),
        esc(app.category),
        fmt(app.pass_rate),
        esc(app.label or "—"),
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
        where = ", ".join(f"{esc(c)} × {n}" for c, n in grouped.items()) or ", ".join(
            f"{esc(f['kind'])} {esc(f['name'])} (F1 {fmt(f['f1'])}, n={f['support']})"
            for f in flagged[:8]
        )
        flag = '<span class="flag">underperforming</span>' if block.get("underperforming") else ""
        rows.append(
            [esc(task), f"{esc(block.get('metric', ''))} {fmt(block.get('value'))}", where, flag]
        )
    examples = [
        f"<details><summary>{esc(task)}: {esc(x['id'])} ({esc(x['failure_class'])})</summary>"
        f"<pre>{esc(x['text'])}</pre></details>"
        for task, block in analysis.items()
        for x in block.get("examples", [])
    ]
    return table(["task", "metric", "failures by class / flagged categories", ""], rows) + "".join(
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
            f"source <b>{esc(source)}</b>: {n_failing} failing app(s) shown, "
            f"{len(flagged)} underperforming categor{'y' if len(flagged) == 1 else 'ies'}"
        )
        body = [
            table(
                ["category", "apps", "mean pass rate", "flag"],
                (
                    [
                        esc(c.category),
                        str(c.n_apps),
                        fmt(c.mean_pass_rate),
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
                    f"<h4>{esc(failure_class)}</h4>"
                    + table(APP_HEADERS, (_app_cell(a) for a in apps))
                )
        else:
            totals = ", ".join(f"{esc(c)}: {n}" for c, n in sorted(analysis.failure_counts.items()))
            body.append(
                f'<p class="muted">Failed tests by class (whole source): {totals or "none"}.'
                " Per-app classes were not recorded (no failure_counts_by_app).</p>"
            )
        for category, apps in analysis.by_category.items():
            body.append(
                f"<h4>Failing apps in {esc(category)}</h4>"
                + table(APP_HEADERS, (_app_cell(a) for a in apps))
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
        f"{esc(source)} · generated {generated} UTC</p>"
    ]
    if not runs:
        out.append(
            f'<div class="empty">No run records under {esc(source)} yet. Run a notebook '
            "(e.g. <code>python -m cetd_lib run notebooks/phase2.ipynb --params "
            "params/smoke.yaml</code>) and rebuild the dashboard.</div>"
        )
    else:
        out.append("<h2>Runs</h2>" + runs_table(runs))
        out.append(_across_runs_html(runs))
        for run in runs:
            out.append(
                f'<h2 id="{esc(run.run_id)}">{esc(run.run_id)} '
                f'<span class="muted">({esc(run.kind)}, '
                f'<span class="status-{esc(run.status)}">{esc(run.status)}</span>)</span></h2>'
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
        raise ValueError(
            f"{path}: not a dashboard written by cetd_lib.tracking.dashboard.build_dashboard"
        )
    return text[start : end + len(END)]
