"""Phase 2, code -> requirements: train stage 1 (gold) and stage 2 (the guarded reconstruction
reward), then evaluate every requirement source on the test split and the holdout apps.

Sources: `gold` (the ceiling), the controls of `eval.control_sources`, `phase1` (retrieval),
`phase2_stage1` and `phase2_stage2` (the trained extractors). Every list passes the stage-2 leak
guard first, as in training. Per row set: the shared table (pass rate with a bootstrap CI, BLEU,
...), Holm-corrected paired comparisons, the expected ranking decided by them, each source's
pass rate as a share of gold's, and the seed targets on the test split.

results.json keeps, beside the shared table, every key the phase-2 results had before it
(`pass_rate`, `by_source`, `ranking`, `by_row_set`, `criteria`, `training`, ...): docs/study.md
and docs/training.md quote them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.evaluation import ladder, phase2  # noqa: F401 - ladder registers the controls
from cetd_lib.evaluation.phase2 import RatioToGold, SourceEvaluation
from cetd_lib.metrics import paired as paired_stats
from cetd_lib.metrics.paired import PairedComparison, RankingCheck
from cetd_lib.models import load_extractor
from cetd_lib.models.extractor import RequirementExtractor
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.studies.phase2_training import run_phase2_training
from cetd_lib.tracking.criteria import Criterion
from cetd_lib.tracking.figures import metrics_figure
from cetd_lib.tracking.report import criteria_table, timings_table, write_training_report
from cetd_lib.tracking.results import ResultsTable
from cetd_lib.tracking.series import metric_group, metric_series
from cetd_lib.train.guard import guard_screen

MODEL = "phase2_stage2"  # the source the seed targets judge
EXTRACTORS = ("phase2_stage1", "phase2_stage2")


@dataclass(frozen=True)
class RowSetAnalysis:
    """The paired statistics of one row set."""

    comparisons: tuple[PairedComparison, ...]
    ranking: RankingCheck
    ratios: tuple[RatioToGold, ...]


@dataclass(frozen=True)
class Phase2Results:
    title: ClassVar[str] = "Phase 2 run"
    table: ResultsTable
    evaluations: dict[str, dict[str, SourceEvaluation]]  # row set -> source -> evaluation
    analysis: dict[str, RowSetAnalysis]  # row set -> paired statistics
    criteria: tuple[Criterion, ...]  # seed targets, stage 2 on the test split
    training: dict[str, Any]  # artifacts/train_summary.json
    setup: str
    seed: int = 0  # of the bootstrap CIs in the report's tables
    training_report: Path | None = None

    @property
    def alpha(self) -> float:
        return 1 - self.table.confidence

    def _row_set_block(self, row_set: str) -> dict[str, Any]:
        a = self.analysis[row_set]
        return {
            "app_ids": list(self.table.row_sets[row_set].app_ids),
            "by_source": {s: ev.to_dict() for s, ev in self.evaluations[row_set].items()},
            "comparisons": [c.to_dict() for c in a.comparisons],
            "ranking": a.ranking.to_dict(),
            "ratios_to_gold": [dataclasses.asdict(r) for r in a.ratios],
            "apps_needed": {f"{c.a} vs {c.b}": c.apps_needed(self.alpha)[0] for c in a.comparisons},
        }

    def headline(self) -> dict[str, Any]:
        """Stage 2 on the test split, the rankings and the seed targets (also the summary)."""
        model = self.evaluations["test"][MODEL]
        return {
            "source": MODEL,
            "bleu": model.bleu,
            "corpus_bleu": model.corpus_bleu,
            "pass_rate": model.pass_rate,
            "share_apps_above_75": model.share_apps_above_75,
            "n_apps": len(model.app_ids),
            "ranking": {rs: a.ranking.to_dict()["verdict"] for rs, a in self.analysis.items()},
            "criteria": [
                {"name": c.name, "target": c.target, "value": c.value, "verdict": c.verdict}
                for c in self.criteria
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        by_row_set = {rs: self._row_set_block(rs) for rs in self.evaluations}
        return {
            **self.table.to_dict(),
            **self.headline(),
            "by_source": by_row_set["test"]["by_source"],
            "by_row_set": by_row_set,
            "training": self.training,
        }

    def summary(self) -> dict[str, Any]:
        return self.headline()

    def report_sections(self) -> dict[str, str]:
        sections = {"Setup": self.setup}
        for row_set, a in self.analysis.items():
            evs = self.evaluations[row_set]
            sections[f"Sources ({row_set})"] = phase2.comparison_table(evs, seed=self.seed)
            sections[f"Share of gold's pass rate ({row_set})"] = phase2.ratio_table(
                a.ratios, self.table.confidence
            )
            sections[f"Paired comparisons ({row_set})"] = paired_stats.comparisons_table(
                list(a.comparisons), self.alpha
            )
            sections[f"Expected ranking ({row_set})"] = "\n".join(
                f"- {line}" for line in a.ranking.lines()
            )
        sections["Seed targets (stage 2, test)"] = criteria_table(list(self.criteria))
        t = self.training
        sections["Training"] = "\n".join(
            [
                timings_table(t["timings"]),
                "",
                f"- stage-2 samples the guard passed: {t['guard_pass_share']:.3f} "
                f"({len(t['guard_rejections'])} rejected)",
                "- within-group reward std per stage-2 step: "
                + ", ".join(f"{v:.3f}" for v in t["within_group_reward_std"]),
                "- within-group likelihood-reward std per stage-2 step: "
                + (", ".join(f"{v:.3f}" for v in t["within_group_likelihood_std"]) or "-"),
            ]
        )
        sections["Files"] = (
            "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
            "artifacts/holdout/, artifacts/stage1/, artifacts/stage2/, "
            "artifacts/training_curves.png, artifacts/pass_rate_hist.png"
        )
        return sections


def training_curves(rows: list[dict[str, Any]], title: str = "") -> Figure:
    """A panel per (stage, group): stage1/losses, stage1/eval, stage2/losses, stage2/rewards."""
    series = metric_series(rows)
    keys = [
        k
        for k in series
        if k.startswith(("stage1/", "stage2/")) and metric_group(k) in ("losses", "rewards", "eval")
    ]
    return metrics_figure(series, keys, title=title)


def pass_rate_histograms(results: Phase2Results) -> Figure:
    """Per row set, the distribution of per-app pass rates of every source."""
    evaluations = results.evaluations
    fig = Figure(figsize=(6 * len(evaluations), 3))
    axes = fig.subplots(1, len(evaluations), squeeze=False)
    for ax, (row_set, evs) in zip(axes[0], evaluations.items(), strict=True):
        for source, ev in evs.items():
            rates = [v for v in ev.pass_rates.values() if v == v]
            ax.hist(rates, bins=10, range=(0, 1), alpha=0.5, label=source)
        ax.set_title(f"{row_set} ({len(results.table.row_sets[row_set].app_ids)} apps)")
        ax.set_xlabel("pass rate of the original tests on the rebuild")
        ax.set_ylabel("apps")
        ax.legend()
    fig.tight_layout()
    return fig


def run(session: Session) -> Phase2Results:
    """Train both stages, evaluate every source on every row set; writes results.json, the
    summary, the report, the two figures and a training report (`outputs/reports/`), and
    completes the run."""
    P, E, run_record = session.params, session.params.eval, session.run
    apps = phase2.load_recorded_apps(P.data, run_record)
    backends = phase2.build_orchestra(P.orchestra)
    stage1_dir, stage2_dir = run_phase2_training(
        P, apps, run_record, device=session.device, backends=backends
    )
    training = json.loads(run_record.artifact("train_summary.json").read_text())
    training_curves(run_record.metrics(), f"training curves, run {run_record.run_id}").savefig(
        run_record.artifact("training_curves.png"), dpi=100
    )
    extractors = {"phase2_stage1": stage1_dir, "phase2_stage2": stage2_dir}
    extractors = {name: load_extractor(path) for name, path in extractors.items()}
    rows = apps.row_sets("test", holdout=E.holdout)
    screen = guard_screen(P.guard)
    evaluations, analysis, table_rows = {}, {}, {}
    for row_set, members in rows.items():
        requirements = _requirements(session, members, apps.retrieval_pool, extractors)
        where = "" if row_set == "test" else f"{row_set}/"
        evs, _ = common.evaluate_row_set(
            session, members, requirements, backends=backends, where=where, screen=screen
        )
        evaluations[row_set] = evs
        analysis[row_set] = _analyse(evs, session)
        table_rows[row_set] = (
            [a.app_id for a in members],
            {
                source: common.evaluation_row(
                    ev, n_resamples=E.n_resamples, confidence=E.confidence, seed=P.run.seed
                )
                for source, ev in evs.items()
            },
        )
    results = Phase2Results(
        table=common.table(session, table_rows, confidence=E.confidence),
        evaluations=evaluations,
        analysis=analysis,
        criteria=tuple(phase2.success_criteria(evaluations["test"][MODEL], E)),
        training=training,
        setup=f"{len(rows['test'])} test apps, {len(rows.get('holdout', []))} holdout apps; "
        f"extractor {P.extractor.variant} on {P.extractor.base_model}; orchestra "
        f"{[m.name for m in P.orchestra.members]}; stage 1 {P.stage1.epochs} epoch(s), max "
        f"{P.stage1.max_steps or 'all'} steps; stage 2 max {P.stage2.max_steps or 'all'} steps",
        seed=P.run.seed,
    )
    pass_rate_histograms(results).savefig(run_record.artifact("pass_rate_hist.png"), dpi=100)
    common.finish(session, results, keep_summary=True)  # keeps the phases training recorded
    report = write_training_report(P.run.outputs_dir, run_record)
    return dataclasses.replace(results, training_report=report)


def _requirements(
    session: Session, members: list[Any], pool: list[Any], extractors: dict[str, Any]
) -> dict[str, dict[str, list[str]]]:
    """source -> app_id -> items: gold, the controls (what the reward pays for), phase 1, and
    each trained extractor."""
    E = session.params.eval

    def context(extractor: RequirementExtractor | None = None) -> phase2.SourceContext:
        return phase2.SourceContext(
            train_apps=pool,
            extractor=extractor,
            context_level=E.context_level,
            max_new_tokens=E.max_new_tokens,
        )

    names = ("gold", *E.control_sources, "phase1")
    out = {name: phase2.requirements_from(name, members, context()) for name in names}
    for source, extractor in extractors.items():
        out[source] = phase2.requirements_from("extractor", members, context(extractor))
    return out


def _analyse(evaluations: dict[str, SourceEvaluation], session: Session) -> RowSetAnalysis:
    E, seed = session.params.eval, session.params.run.seed
    comparisons, ranking = phase2.paired_analysis(
        evaluations,
        test=E.paired_test,
        n_resamples=E.n_resamples,
        confidence=E.confidence,
        seed=seed,
    )
    ratios = phase2.ratios_to_gold(
        evaluations, n_resamples=E.n_resamples, confidence=E.confidence, seed=seed
    )
    return RowSetAnalysis(tuple(comparisons), ranking, tuple(ratios))
