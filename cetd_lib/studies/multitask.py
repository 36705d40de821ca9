"""The multi-task model (Phase 5): data -> model -> curriculum -> export -> held-out evaluation
(`cetd_lib.multitask.train.run_multitask`, docs/multitask_train.md).

The shared table has one row set, `heldout`, and one source, `multitask` (the exported model),
with the headline figure of each task; the held-out evaluation (`humaneval`, `quality`,
`security`, `tests`, `clarification`, `explanation`, `targets`, `gates`, `error_analysis`, ...)
sits beside it as `run_multitask` wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.multitask import train
from cetd_lib.review import store_path
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.live import LiveMetrics
from cetd_lib.tracking.report import write_training_report
from cetd_lib.tracking.results import Estimate, ResultsTable, SourceRow

ROW_SET = "heldout"
SOURCE = "multitask"


@dataclass(frozen=True)
class MultitaskResults:
    title: ClassVar[str] = "Multi-task run"
    table: ResultsTable
    evaluation: dict[str, Any]  # run_multitask's results
    setup: str
    training_report: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.table.to_dict(), **self.evaluation}

    def summary(self) -> dict[str, Any]:
        return {}  # run_multitask summarised the targets; finish keeps them

    def report_sections(self) -> dict[str, str]:
        gates = "\n".join(
            f"- {g['phase']}: **{g['event']}** ({g.get('gate') or 'plateau'}, value "
            f"{g.get('value')})"
            for g in self.evaluation["gates"]
        )
        return {
            "Setup": self.setup,
            "Gates": gates,
            "Seed targets": train.targets_markdown(self.evaluation),
            "Measured without a seed target": train.untargeted_markdown(self.evaluation),
            "Files": "results.json, artifacts/multitask/events.json, "
            "artifacts/multitask/best/, artifacts/multitask_val_loss.png",
        }


def headline_metrics(evaluation: dict[str, Any]) -> dict[str, Estimate]:
    """Each task's headline figure (`train.summary_table`), flattened: `humaneval/pass@1`, ..."""
    flat: dict[str, Estimate] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}/{key}" if prefix else key, inner)
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            flat[prefix] = Estimate.of(value)  # None: not measured in this run

    table = train.summary_table(evaluation)
    for key in ("gates", "targets", "wall_time_s"):
        table.pop(key)
    walk("", table)
    return flat


def val_loss_figure(results: MultitaskResults) -> Figure:
    """Validation loss per epoch, each point labelled with its curriculum phase."""
    epochs = results.evaluation["epochs"]
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    ax.plot([e["epoch"] for e in epochs], [e["val/loss"] for e in epochs], marker="o")
    for e in epochs:
        ax.annotate(e["phase"].split("_")[0], (e["epoch"], e["val/loss"]), fontsize=7)
    ax.set_xlabel("epoch")
    ax.set_ylabel("val loss (phase's tasks)")
    fig.tight_layout()
    return fig


def run(session: Session) -> MultitaskResults:
    """Train and evaluate; writes results.json, summary, report, the val-loss figure and a
    training report, and completes the run."""
    P, record = session.params, session.run
    with LiveMetrics.from_config(record, P.dashboard, report_to=P.run.report_to) as live:
        evaluation = train.run_multitask(
            P.multitask_train,
            record,
            data_config=P.multitask_data,
            harness=P.harness,
            outputs_dir=P.run.outputs_dir,
            review_store=store_path(P),
            apps_dir=P.data.apps_dir,
            live=live,
        )
    cfg = P.multitask_train
    results = MultitaskResults(
        table=common.table(
            session,
            {ROW_SET: ((), {SOURCE: SourceRow(metrics=headline_metrics(evaluation))})},
            confidence=0.95,
        ),
        evaluation=evaluation,
        setup=f"base {cfg.base_model}; max epochs {cfg.phase_epochs}",
    )
    val_loss_figure(results).savefig(record.artifact("multitask_val_loss.png"), dpi=100)
    common.finish(session, results, keep_summary=True)
    report = write_training_report(P.run.outputs_dir, record)
    return MultitaskResults(results.table, evaluation, results.setup, report)
