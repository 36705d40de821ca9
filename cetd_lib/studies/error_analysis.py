"""Error analysis: why rebuilt apps fail, where, and for whom, over the evaluation records of a
run (`ablation.analysis_run_id`: a phase-2 or ablation run) or, without one, of gold, phase 1
and level 3 evaluated here on `ablation.split`. Failure classes per source, the suspected
reward hacks, the worst apps, by degradation level and orchestra member, and sample triples
(requirements -> rebuild -> test output).

The shared table has one row set, `analysed`: each source's pass rate with a bootstrap CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.evaluation import ablation, phase2
from cetd_lib.evaluation import error_analysis as ea
from cetd_lib.metrics.bleu import bootstrap_ci
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.results import Estimate, ResultsTable, SourceRow

ROW_SET = "analysed"


@dataclass(frozen=True)
class ErrorAnalysisResults:
    title: ClassVar[str] = "Error analysis"
    table: ResultsTable
    analysed_run: str | None  # None: evaluated in this run
    runs: dict[str, ea.SourceRun]
    failures: dict[str, dict[str, int]]  # source -> failure class -> failing gold tests
    suspects: dict[str, int]
    worst: list[dict[str, Any]]
    levels: dict[int, dict[str, Any]]
    members: dict[str, dict[str, dict[str, Any]]]
    examples: tuple[ea.Example, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.table.to_dict(),
            "analysed_run": self.analysed_run,
            "pass_rate": {n: run.pass_rate for n, run in self.runs.items()},
            "failure_counts": self.failures,
            "failure_shares": {n: ea.shares(c) for n, c in self.failures.items()},
            "reward_hack_suspects": self.suspects,
            "worst_apps": self.worst,
            "by_level": self.levels,
            "by_member": self.members,
            "examples": [
                {
                    "source": e.source,
                    "app_id": e.app_id,
                    "member": e.member,
                    "sample": e.sample,
                    "failure": e.failure,
                    "pass_rate": e.pass_rate,
                }  # fmt: skip
                for e in self.examples
            ],
        }

    def summary(self) -> dict[str, Any]:
        return {
            "analysed_run": self.analysed_run,
            "pass_rate": {n: run.pass_rate for n, run in self.runs.items()},
        }

    def report_sections(self) -> dict[str, str]:
        classes = list(next(iter(self.failures.values()), {}))
        return {
            "Analysed": self.analysed_run or "an evaluation run in this notebook",
            "Failure classes": ea.markdown_table(
                ["source", *classes], [[n, *c.values()] for n, c in self.failures.items()]
            ),
            "Reward-hack suspects": ea.markdown_table(
                ["source", "REWARD_HACK_SUSPECT tests"], list(self.suspects.items())
            ),
            "Worst apps": ea.markdown_table(
                ["app", "mean", *self.runs],
                [[w["app_id"], w["mean_pass_rate"], *w["by_source"].values()] for w in self.worst],
            ),
            "By degradation level": self._levels_md(),
            "By orchestra member": ea.markdown_table(
                ["source", "member", "pass rate", "failure classes"],
                [
                    [
                        n,
                        m,
                        row["pass_rate"],
                        row["failure_counts"]
                        if row["failure_counts"] is not None
                        else "(no records in this run)",
                    ]  # fmt: skip
                    for n, rows in self.members.items()
                    for m, row in rows.items()
                ],
            ),
            "Samples": "\n".join(e.render(max_chars=800) for e in self.examples)
            or "(no reconstruction records in this run: phase2 writes evaluation-*.json only)",
        }

    def _levels_md(self) -> str:
        if not self.levels:
            return "no degradation-level sources in this run"
        return ea.markdown_table(
            ["level", "source", "pass rate", "top failure class"],
            [
                [
                    lv,
                    row["source"],
                    row["pass_rate"],
                    max(row["failure_counts"], key=row["failure_counts"].get, default="—"),
                ]  # fmt: skip
                for lv, row in self.levels.items()
            ],
        )


def failure_figure(results: ErrorAnalysisResults) -> Figure:
    """Failing gold tests per class, a bar per source."""
    fig = Figure(figsize=(7, 0.5 + 0.4 * len(results.failures)))
    ea.plot_failure_classes(results.failures, fig.subplots())
    fig.tight_layout()
    return fig


def _evaluate_here(session: Session) -> dict[str, ea.SourceRun]:
    """gold, phase 1 and level 3 on `ablation.split`, recorded in this run's artifacts."""
    P, A = session.params, session.params.ablation
    apps = phase2.load_phase2_apps(
        P.data.apps_dir,
        include_humaneval=P.data.include_humaneval,
        max_apps=P.data.max_apps,
        data_config=P.data,
    )
    conditions = ablation.run_conditions(
        ea.SELF_EVALUATION_SOURCES,
        apps[A.split],
        train_apps=apps.retrieval_pool,
        orchestra=P.orchestra,
        harness=P.harness,
        backends=phase2.build_orchestra(P.orchestra),
        outputs_dir=P.run.outputs_dir,
    )
    for result in conditions.values():
        ablation.save_condition(result, session.run.artifact)
    return ea.runs_from_conditions(conditions)


def _row(run: ea.SourceRun, A: Any, seed: int) -> SourceRow:
    values = common.finite(list(run.pass_rates.values()))
    ci = bootstrap_ci(values, n_resamples=A.n_resamples, confidence=A.confidence, seed=seed)
    return SourceRow(n_apps=len(values), metrics={"pass_rate": Estimate.of(run.pass_rate, ci)})


def run(session: Session) -> ErrorAnalysisResults:
    """Analyse `ablation.analysis_run_id` (or evaluate here); writes results.json, summary,
    report and `artifacts/failure_classes.png`, and completes the run."""
    P, A = session.params, session.params.ablation
    analysed = None
    if A.analysis_run_id:
        analysed = Path(P.run.outputs_dir) / "runs" / A.analysis_run_id
        runs = ea.load_run(analysed)
    else:
        runs = _evaluate_here(session)
    app_ids = sorted({a for r in runs.values() for a in r.pass_rates})
    results = ErrorAnalysisResults(
        table=common.table(
            session,
            {ROW_SET: (app_ids, {n: _row(r, A, P.run.seed) for n, r in runs.items()})},
            A.confidence,
        ),
        analysed_run=str(analysed) if analysed else None,
        runs=runs,
        failures=ea.failure_table(runs),
        suspects=ea.reward_hack_suspects(runs),
        worst=ea.worst_apps(runs, A.n_worst_apps),
        levels=ea.by_level(runs),
        members=ea.by_member(runs),
        examples=tuple(ea.sample_examples(runs, A.n_examples)),
    )
    failure_figure(results).savefig(session.run.artifact("failure_classes.png"), dpi=100)
    common.finish(session, results)
    return results
