"""Ablation: the same apps and orchestra, different inputs to the reconstructor (requirement
sources and the app's own code at degradation levels 1-3), on `ablation.split` and the holdout
apps. Per row set: pass rate per condition with a bootstrap CI, Holm-corrected paired
comparisons per app, and the seed's expected ranking decided by them.

`phase2_stage*` read the checkpoints of the run `ablation.phase2_run_id`; without one those
rows are in the table with the reason they were not measured, never faked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.evaluation import ablation, phase2
from cetd_lib.evaluation.ablation import ConditionResult
from cetd_lib.metrics.paired import PairedComparison, RankingCheck
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.results import ResultsTable, SourceRow
from cetd_lib.train.guard import guard_screen


@dataclass(frozen=True)
class AblationResults:
    title: ClassVar[str] = "Ablation run"
    table: ResultsTable
    split: str
    conditions: dict[str, dict[str, ConditionResult]]  # row set -> source -> condition
    pass_rates: dict[str, dict[str, dict[str, Any] | None]]  # ablation.pass_rate_summary
    comparisons: dict[str, tuple[PairedComparison, ...]]
    ranking: dict[str, RankingCheck]
    prompt_versions: dict[str, str]
    setup: str

    @property
    def alpha(self) -> float:
        return 1 - self.table.confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.table.to_dict(),
            "split": self.split,
            "by_row_set": {
                row_set: {
                    "comparisons": [c.to_dict() for c in self.comparisons[row_set]],
                    "ranking": self.ranking[row_set].to_dict(),
                }
                for row_set in self.conditions
            },
            "checkpoints": {
                n: r.checkpoint for n, r in self.conditions[self.split].items() if r.checkpoint
            },
            "prompt_versions": self.prompt_versions,
        }

    def summary(self) -> dict[str, Any]:
        return {
            **{f"ranking/{r}": check.verdict for r, check in self.ranking.items()},
            **{
                f"pass_rate/{n}": (row["mean"] if row else None)
                for n, row in self.pass_rates[self.split].items()
            },
        }

    def report_sections(self) -> dict[str, str]:
        sections = {"Setup": self.setup}
        for row_set, conditions in self.conditions.items():
            sections[f"Pass rate by condition ({row_set})"] = ablation.summary_table(
                self.pass_rates[row_set], conditions
            )
            sections[f"Per-app pass rates ({row_set})"] = ablation.per_app_table(conditions)
            sections[f"Paired comparisons ({row_set})"] = ablation.comparisons_table(
                list(self.comparisons[row_set]), self.alpha
            )
            sections[f"Expected ranking ({row_set})"] = "\n".join(
                f"- {line}" for line in self.ranking[row_set].lines()
            )
        sections["Files"] = (
            "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
            "artifacts/holdout/, artifacts/ablation_pass_rates.png"
        )
        return sections


def pass_rate_figure(results: AblationResults) -> Figure:
    """Per row set, mean pass rate per condition with its CI (blue: requirements, orange: code)."""
    row_sets = results.table.row_sets
    fig = Figure(figsize=(7 * len(row_sets), 3))
    axes = fig.subplots(1, len(row_sets), squeeze=False)
    for ax, (row_set, block) in zip(axes[0], row_sets.items(), strict=True):
        ablation.plot_pass_rates(results.pass_rates[row_set], ax)
        ax.set_title(f"{len(block.app_ids)} {row_set} apps; blue: requirements, orange: code")
    fig.tight_layout()
    return fig


def _row(result: ConditionResult, A: Any, seed: int) -> SourceRow:
    if not result.measured:
        return SourceRow(status=result.unavailable)
    return common.evaluation_row(
        result.evaluation, n_resamples=A.n_resamples, confidence=A.confidence, seed=seed
    )


def run(session: Session) -> AblationResults:
    """Every condition through the orchestra on each row set; writes results.json, summary,
    report and `artifacts/ablation_pass_rates.png`, and completes the run."""
    P, A, record = session.params, session.params.ablation, session.run
    apps = phase2.load_recorded_apps(P.data, record)
    rows = apps.row_sets(A.split, holdout=A.holdout)
    backends = phase2.build_orchestra(P.orchestra)
    conditions, pass_rates, comparisons, ranking, table_rows = {}, {}, {}, {}, {}
    for row_set, members in rows.items():
        conditions[row_set] = found = ablation.run_conditions(
            A.sources,
            members,
            train_apps=apps.retrieval_pool,
            orchestra=P.orchestra,
            harness=P.harness,
            backends=backends,
            outputs_dir=P.run.outputs_dir,
            phase2_run_id=A.phase2_run_id,
            extractor_context_level=P.eval.context_level,
            max_new_tokens=P.eval.max_new_tokens,
            screen=guard_screen(P.guard),  # requirement lists pass the stage-2 guard first
        )
        where = "" if row_set == A.split else f"{row_set}/"
        for step, (name, result) in enumerate(found.items()):
            ablation.save_condition(result, lambda f, where=where: record.artifact(where + f))
            if result.measured:
                ev = result.evaluation
                record.log_metrics(
                    step, row_set=row_set, source=name, pass_rate=ev.pass_rate, bleu=ev.bleu
                )
        pass_rates[row_set] = summary = ablation.pass_rate_summary(
            found, n_resamples=A.n_resamples, confidence=A.confidence, seed=P.run.seed
        )
        measured = [n for n, r in found.items() if r.measured]
        comparisons[row_set] = tuple(
            ablation.compare_all(
                ablation.default_pairs(measured, A.expected_ranking),
                {n: r.evaluation.pass_rates if r.measured else None for n, r in found.items()},
                test=A.paired_test,
                n_resamples=A.n_resamples,
                confidence=A.confidence,
                seed=P.run.seed,
            )
        )
        ranking[row_set] = ablation.check_ranking(
            list(comparisons[row_set]),
            A.expected_ranking,
            measured=measured,
            alpha=1 - A.confidence,
            means={n: row["mean"] for n, row in summary.items() if row},
        )
        table_rows[row_set] = (
            [a.app_id for a in members],
            {n: _row(r, A, P.run.seed) for n, r in found.items()},
        )
    results = AblationResults(
        table=common.table(session, table_rows, confidence=A.confidence),
        split=A.split,
        conditions=conditions,
        pass_rates=pass_rates,
        comparisons=comparisons,
        ranking=ranking,
        prompt_versions={
            "requirements": P.orchestra.prompt_version,
            "context": ablation.CONTEXT_PROMPT_VERSION,
        },
        setup=f"{', '.join(f'{len(m)} {r} apps' for r, m in rows.items())}; orchestra "
        f"{[m.name for m in P.orchestra.members]}; phase-2 run {A.phase2_run_id or '(none)'}",
    )
    pass_rate_figure(results).savefig(record.artifact("ablation_pass_rates.png"), dpi=100)
    common.finish(session, results)
    return results
