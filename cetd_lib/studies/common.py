"""What every study does the same way: evaluate sources on a row set into the run record, turn
evaluations into the shared results table, and close the run with results.json, summary and
report (`finish`). Each study module owns what its results hold beside the table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from matplotlib.figure import Figure

from cetd_lib.apps.app import App
from cetd_lib.evaluation import phase2
from cetd_lib.evaluation.phase2 import RequirementsScreen, SourceEvaluation
from cetd_lib.metrics.bleu import bootstrap_ci
from cetd_lib.reconstruction.reconstruct import ReconstructionResult
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.session import Session
from cetd_lib.tracking.figures import figure_png
from cetd_lib.tracking.report import write_report
from cetd_lib.tracking.results import Estimate, ResultsTable, RowSet, SourceRow
from cetd_lib.tracking.runs import RunRecord, write_text_atomic

# the metrics of a SourceEvaluation in the shared table (pass_rate gets the bootstrap CI)
EVALUATION_METRICS = ("pass_rate", "bleu", "corpus_bleu", "share_apps_above_75", "guard_pass_share")
# what each evaluation logs as eval/<where><source>/<metric>
METRICS_LOGGED = ("bleu", "pass_rate", "share_apps_above_75", "guard_pass_share")


class StudyResults(Protocol):
    """What `finish` needs from a study's results: the JSON, the summary and the report."""

    title: str

    def to_dict(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, Any]: ...

    def report_sections(self) -> dict[str, str]: ...


def finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if not math.isnan(v)]


def evaluation_row(
    ev: SourceEvaluation, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> SourceRow:
    """A measured source in the shared table: the evaluation's metrics, the pass rate with a
    percentile bootstrap CI over apps (unscoreable apps left out)."""
    values = finite(list(ev.pass_rates.values()))
    ci = bootstrap_ci(values, n_resamples=n_resamples, confidence=confidence, seed=seed)
    metrics = {name: Estimate.of(getattr(ev, name)) for name in EVALUATION_METRICS}
    metrics["pass_rate"] = Estimate.of(ev.pass_rate, ci)
    return SourceRow(n_apps=len(values), metrics=metrics)


def evaluate_row_set(
    session: Session,
    members: Sequence[App],
    requirements: Mapping[str, Mapping[str, list[str]]],
    *,
    backends: Mapping[str, Any],
    where: str = "",
    screen: RequirementsScreen | None = None,
    harness: HarnessConfig | None = None,
) -> tuple[dict[str, SourceEvaluation], dict[str, ReconstructionResult]]:
    """Each source's requirements (source -> app_id -> items) rebuilt by the orchestra on
    `members`; metrics logged as `eval/<where><source>/<metric>`, records written to
    `artifacts/<where>evaluation-<source>.json` and `reconstruction-<source>.json` (what error
    analysis reads back)."""
    P, run = session.params, session.run
    evaluations, rebuilt = {}, {}
    for source, reqs in requirements.items():
        ev, result = phase2.evaluate_with_records(
            source,
            members,
            dict(reqs),
            orchestra=P.orchestra,
            harness=harness or P.harness,
            backends=dict(backends),
            screen=screen,
        )
        evaluations[source], rebuilt[source] = ev, result
        run.log_metrics(0, **{f"eval/{where}{source}/{m}": getattr(ev, m) for m in METRICS_LOGGED})
        run.artifact(f"{where}evaluation-{source}.json").write_text(phase2.to_json(ev.to_dict()))
        run.artifact(f"{where}reconstruction-{source}.json").write_text(
            phase2.to_json(result.to_dict())
        )
    return evaluations, rebuilt


def table(
    session: Session,
    row_sets: Mapping[str, tuple[Sequence[str], Mapping[str, SourceRow]]],
    confidence: float,
) -> ResultsTable:
    """The shared table from row set -> (app ids, source -> row)."""
    return ResultsTable(
        kind=session.run.manifest().get("kind", "run"),
        run_id=session.run.run_id,
        confidence=confidence,
        row_sets={
            name: RowSet(tuple(app_ids), dict(rows)) for name, (app_ids, rows) in row_sets.items()
        },
    )


def write_results(run: RunRecord, results: StudyResults) -> Path:
    path = run.dir / "results.json"
    write_text_atomic(path, phase2.to_json(results.to_dict()))
    return path


def finish(session: Session, results: StudyResults, *, keep_summary: bool = False) -> Path:
    """results.json, summary.json and report.md of the run, then mark it completed; returns the
    report's path. `keep_summary`: merge into what the run already summarised (phase 2's
    training phases) instead of replacing it."""
    run = session.run
    write_results(run, results)
    run.write_summary({**(run.summary() if keep_summary else {}), **results.summary()})
    report = write_report(
        run.dir / "report.md", f"{results.title} {run.run_id}", results.report_sections()
    )
    run.finish()
    return report


def report_markdown(results: StudyResults, *headings: str) -> str:
    """The report sections whose heading starts with one of `headings` (all when none), as
    markdown: what a notebook displays after `run`."""
    sections = results.report_sections()
    chosen = {h: t for h, t in sections.items() if not headings or h.startswith(headings)}
    return "\n\n".join(f"### {h}\n\n{t}" for h, t in chosen.items())


def figure_image(fig: Figure, dpi: int = 100) -> Any:
    """`fig` as an `IPython.display.Image`: a notebook shows it whatever the matplotlib backend
    (a bare `Figure`, made without pyplot, displays only as its text repr)."""
    from IPython.display import Image

    return Image(figure_png(fig, dpi=dpi))
