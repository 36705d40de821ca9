"""Markdown reports and the seed's success criteria, reported as met or missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cetd_lib.tracking.criteria import Criterion, criteria_table
from cetd_lib.tracking.runs import write_text_atomic


def timings_table(timings: dict[str, float]) -> str:
    """Wall times as a markdown table (`stage1_s` -> row `stage1`), the total last.

    >>> print(timings_table({"stage1_s": 61.0, "stage2_s": 3725.2}))
    | phase | wall time | seconds |
    |---|---|---|
    | stage1 | 1m01s | 61 |
    | stage2 | 1h02m | 3725 |
    | total | 1h03m | 3786 |
    """
    from cetd_lib.tracking.progress import format_duration

    lines = ["| phase | wall time | seconds |", "|---|---|---|"]
    rows = [(name.removesuffix("_s"), seconds) for name, seconds in timings.items()]
    rows.append(("total", sum(timings.values())))
    for name, seconds in rows:
        lines.append(f"| {name} | {format_duration(seconds)} | {seconds:.0f} |")
    return "\n".join(lines)


def write_report(path: Path, title: str, sections: dict[str, str]) -> Path:
    body = [f"# {title}", ""]
    for heading, text in sections.items():
        body += [f"## {heading}", "", text.rstrip(), ""]
    write_text_atomic(path, "\n".join(body))
    return path


# ---------------------------------------------------------------------------------------------
# Training report: every phase run in one markdown file (appended for the monitoring issue)
# ---------------------------------------------------------------------------------------------

# Metric keys that measure throughput (cleanrl's SPS, HF's train_samples_per_second, ...).
_THROUGHPUT_MARKERS = ("per_s", "per_second", "tokens_per", "sps")


def _criteria_rows(summary: dict) -> list[tuple[str, Criterion]]:
    """(task, criterion) from `summary["criteria"]` (items may carry a `task`) and from
    `summary["criteria_by_task"]` ({task: [...]}); verdicts recomputed, not trusted."""
    out: list[tuple[str, Criterion]] = []
    blocks = [("", summary.get("criteria") or [])]
    blocks += list((summary.get("criteria_by_task") or {}).items())
    for task, items in blocks:
        for item in items:
            if isinstance(item, dict) and "target" in item:
                value = item.get("value")
                out.append(
                    (
                        str(item.get("task", task) or "—"),
                        Criterion(str(item.get("name", "?")), float(item["target"]), value),
                    )
                )
    return out


def _checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint folders under artifacts/: any holding a training_config.json, and the names
    trainers give them (`checkpoint-<step>` from HF Trainer, `epoch-<n>`, `best`)."""
    artifacts = run_dir / "artifacts"
    found = {p.parent for p in artifacts.rglob("training_config.json")}
    for pattern in ("checkpoint-*", "epoch-*", "best"):
        found |= {p for p in artifacts.rglob(pattern) if p.is_dir()}
    return sorted(found)


def phase_rows(rows: list[dict], summary: dict) -> dict[str, dict[str, Any]]:
    """Per training phase found in metrics.jsonl (`stage1/...`, `stage2/...`, `mutation_rl/...`):
    logged steps, epochs, wall time, mean throughput and the last value of every metric.

    Wall time and epochs come from `summary["phases"][phase]` when the trainer recorded them
    (`wall_time_s`, `epochs`), else from the rows: the time between the phase's first and last
    row (a lower bound) and the largest `charts/epoch` (HF's epoch progress)."""
    import datetime as dt
    import statistics

    from cetd_lib.tracking.series import metric_series, split_phase

    recorded = summary.get("phases") or {}
    out: dict[str, dict[str, Any]] = {}
    for phase in sorted({split_phase(k)[0] for row in rows for k in row} - {""}):
        mine = []  # the phase's rows, keys without the phase
        for row in rows:
            keys = {k: split_phase(k)[1] for k in row if split_phase(k)[0] == phase}
            if keys:
                mine.append(
                    {"step": row["step"], "time": row.get("time")}
                    | {rest: row[k] for k, rest in keys.items()}
                )
        series = metric_series(mine)
        times = [dt.datetime.fromisoformat(r["time"]) for r in mine if r.get("time")]
        info = dict(recorded.get(phase) or {})
        epochs = series.get("charts/epoch", ([], []))[1]
        info.setdefault("epochs", round(max(epochs), 2) if epochs else None)
        info.setdefault(
            "wall_time_s", (max(times) - min(times)).total_seconds() if len(times) > 1 else None
        )
        info.setdefault("steps", max((int(r["step"]) for r in mine), default=None))
        info["throughput"] = {
            k: statistics.fmean(v)
            for k, (_, v) in series.items()
            if any(m in k for m in _THROUGHPUT_MARKERS)
        }
        info["final"] = {k: v[-1] for k, (_, v) in series.items()}
        out[phase] = info
    return out


def phases_table(phases: dict[str, dict[str, Any]]) -> str:
    """Markdown: one row per phase that ran."""
    from cetd_lib.tracking.dashboard import duration_text

    def number(value: Any) -> str:
        return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    lines = [
        "| phase | epochs | last step | wall time | mean throughput |",
        "|---|---|---|---|---|",
    ]
    for phase, info in phases.items():
        speed = ", ".join(f"{k} {v:.3g}" for k, v in sorted(info["throughput"].items()))
        lines.append(
            f"| {phase} | {number(info.get('epochs'))} | {number(info.get('steps'))} | "
            f"{duration_text(info.get('wall_time_s'))} | {speed or 'not logged'} |"
        )
    return "\n".join(lines)


def _run_section(view, report_dir: Path) -> str:
    import os

    from cetd_lib.tracking.dashboard import duration_text, summary_numbers
    from cetd_lib.tracking.series import last_values

    finals = last_values(view.rows)
    phases = phase_rows(view.rows, view.summary)
    epochs = view.summary.get("epochs", finals.get("charts/epoch"))
    if epochs is None and phases:
        epochs = "per phase, below"
    steps = max((int(r["step"]) for r in view.rows if "step" in r), default=None)
    throughput = {
        k: v
        for k, v in {**finals, **summary_numbers(view.summary, limit=100)}.items()
        if any(m in k for m in _THROUGHPUT_MARKERS)
    }
    lines = [
        f"- kind: `{view.kind}`, status: **{view.status}**",
        f"- started {view.started_at or '—'}, ended {view.ended_at or '—'}, "
        f"wall time {duration_text(view.wall_time_s)}",
        f"- epochs: {epochs if epochs is not None else '—'}, last logged step: "
        f"{steps if steps is not None else '—'}",
        "- throughput: "
        + (", ".join(f"{k} = {v:.4g}" for k, v in sorted(throughput.items())) or "not logged"),
    ]
    rel = os.path.relpath(view.dir, report_dir)
    checkpoints = _checkpoints(view.dir)
    lines.append(
        "- checkpoints: "
        + (
            ", ".join(f"[{p.name}]({os.path.relpath(p, report_dir)})" for p in checkpoints)
            or "none saved"
        )
    )
    lines.append(f"- run record: [{view.run_id}]({rel}/)")
    if phases:
        lines += ["", f"**Phases that ran** ({', '.join(phases)})", "", phases_table(phases)]
    criteria = _criteria_rows(view.summary)
    if criteria:
        tasks = sorted({task for task, _ in criteria})
        for task in tasks:
            heading = "Seed targets" if task == "—" else f"Seed targets, task `{task}`"
            lines += [
                "",
                f"**{heading}**",
                "",
                criteria_table([c for t, c in criteria if t == task]),
            ]
    else:
        lines += ["", "No seed targets recorded in summary.json."]
    if finals:
        lines += ["", "**Final logged metrics**", "", "| metric | last value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in sorted(finals.items())]
    return "\n".join(lines)


def write_training_report(
    outputs_dir: str | Path, run=None, *, build_dashboard: bool = True
) -> Path:
    """`<outputs_dir>/reports/training-<UTC time>.md`: every phase run under `outputs_dir`.

    For each run (the dashboard notebook's own runs left out): status, wall time, epochs and
    logged steps, throughput, checkpoints, final metrics and each seed target met or missed,
    per task. `run` (a RunRecord or run id) is listed first. With `build_dashboard` the HTML
    dashboard is refreshed first so the report's link to it is current.
    """
    import datetime as dt
    import os

    from cetd_lib.tracking.dashboard import build_dashboard as _build
    from cetd_lib.tracking.views import load_runs

    outputs = Path(outputs_dir)
    views = load_runs(outputs)
    current = getattr(run, "run_id", run)
    if current is not None:
        if current not in {v.run_id for v in views}:
            views = [*load_runs(outputs, [current]), *views]
        views.sort(key=lambda v: v.run_id != current)  # stable: the rest stay in start order
    report_dir = outputs / "reports"
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = report_dir / f"training-{stamp}.md"
    counter = 1
    while path.exists():  # two reports in one second: never overwrite the first
        path = report_dir / f"training-{stamp}-{counter}.md"
        counter += 1
    dashboard = outputs / "dashboard" / "index.html"
    if build_dashboard:
        _build(outputs)
    link = (
        f"[dashboard]({os.path.relpath(dashboard, report_dir)})"
        if dashboard.exists()
        else "not built (cetd_lib.tracking.dashboard.build_dashboard)"
    )
    kinds = sorted({v.kind for v in views})
    overview = [
        f"{len(views)} run(s) of kind(s) {', '.join(f'`{k}`' for k in kinds) or '—'}. "
        f"Dashboard: {link}.",
        "",
        "| run | kind | status | wall time | seed targets met |",
        "|---|---|---|---|---|",
    ]
    from cetd_lib.tracking.dashboard import duration_text

    for view in views:
        criteria = _criteria_rows(view.summary)
        met = sum(c.verdict == "met" for _, c in criteria)
        overview.append(
            f"| {view.run_id} | {view.kind} | {view.status} | {duration_text(view.wall_time_s)} | "
            + (f"{met}/{len(criteria)} |" if criteria else "— |")
        )
    sections = {"Overview": "\n".join(overview)}
    for view in views:
        label = " (this run)" if view.run_id == current else ""
        sections[f"{view.kind}: {view.run_id}{label}"] = _run_section(view, report_dir)
    if not views:
        sections["Overview"] = f"No runs under {outputs / 'runs'} yet."
    return write_report(path, "Training report", sections)
