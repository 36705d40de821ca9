"""Phase 1, the retrieval baseline: each val/test app gets the gold requirements of the most
similar *training* app (BM25 over code tokens), judged like every source (BLEU against its own
gold, pass rate of its tests on the orchestra's rebuild). Row sets: the val and test splits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.apps.requirements import format_requirements
from cetd_lib.apps.retrieval import Phase1Retriever
from cetd_lib.evaluation import phase2
from cetd_lib.metrics.bleu import sentence_bleu
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.results import ResultsTable

SPLITS = ("val", "test")
SOURCE = "phase1"


@dataclass(frozen=True)
class Phase1Results:
    """The phase-1 row per split, and per app the neighbour it borrowed from."""

    title: ClassVar[str] = "Phase 1 run"
    table: ResultsTable
    per_app: tuple[dict[str, Any], ...]  # split, app_id, neighbour, neighbour_score, bleu, ...
    failure_counts: dict[str, dict[str, int]]  # split -> failure class -> count
    prompt_version: str
    retrieval_pool: int
    orchestra: tuple[str, ...]
    comparison: str  # markdown: BLEU and pass rate per split

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.table.to_dict(),
            "source": SOURCE,
            "per_app": list(self.per_app),
            "failure_counts": self.failure_counts,
            "prompt_version": self.prompt_version,
        }

    def summary(self) -> dict[str, Any]:
        return {
            f"{split}/{metric}": self.table.metric(split, SOURCE, metric).value
            for split in self.table.row_sets
            for metric in ("bleu", "pass_rate")
        }

    def report_sections(self) -> dict[str, str]:
        n_apps = {split: len(rs.app_ids) for split, rs in self.table.row_sets.items()}
        return {
            "Setup": f"{n_apps} apps; retrieval pool {self.retrieval_pool} training apps; "
            f"orchestra {list(self.orchestra)}",
            "Phase 1 (retrieval) by split": self.comparison,
            "Files": "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
            "artifacts/phase1_per_app.png",
        }


def per_app_figure(results: Phase1Results) -> Figure:
    """BLEU against gold and pass rate per app, side by side."""
    rows = results.per_app
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["bleu"] for r in rows], width=0.4, label="BLEU vs gold")
    ax.bar([i + 0.2 for i in x], [r["pass_rate"] for r in rows], width=0.4, label="pass rate")
    labels = [f"{r['app_id']} ({r['split']})" for r in rows]
    ax.set_xticks(list(x), labels, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    return fig


def run(session: Session) -> Phase1Results:
    """Retrieve, rebuild and score every val and test app; writes the run's results.json,
    summary, report and `artifacts/phase1_per_app.png`, and completes the run."""
    P, E = session.params, session.params.eval
    apps = phase2.load_recorded_apps(P.data, session.run)
    retriever = Phase1Retriever(apps.retrieval_pool)
    ctx = phase2.SourceContext(train_apps=apps.retrieval_pool)
    backends = phase2.build_orchestra(P.orchestra)
    rows, per_app, failures, comparison, prompt_version = {}, [], {}, {}, ""
    for split in SPLITS:
        members = apps[split]
        requirements = phase2.requirements_from(SOURCE, members, ctx)
        # artifacts keep their per-split name: error analysis reads evaluation-phase1_<split>
        evs, rebuilt = common.evaluate_row_set(
            session, members, {f"{SOURCE}_{split}": requirements}, backends=backends
        )
        ev = evs[f"{SOURCE}_{split}"]
        prompt_version = rebuilt[f"{SOURCE}_{split}"].prompt_version
        rows[split] = (
            ev.app_ids,
            {
                SOURCE: common.evaluation_row(
                    ev, n_resamples=E.n_resamples, confidence=E.confidence, seed=P.run.seed
                )
            },
        )
        failures[split], comparison[f"phase1 ({split})"] = ev.failure_counts, ev
        for app in members:
            neighbour = retriever.nearest(app)[0]
            per_app.append(
                {
                    "split": split,
                    "app_id": app.app_id,
                    "neighbour": neighbour.app.app_id,
                    "neighbour_score": neighbour.score,
                    "bleu": sentence_bleu(
                        format_requirements(requirements[app.app_id]),
                        format_requirements(app.requirements),
                    ),
                    "pass_rate": ev.pass_rates[app.app_id],
                }
            )
    results = Phase1Results(
        table=common.table(session, rows, confidence=E.confidence),
        per_app=tuple(per_app),
        failure_counts=failures,
        prompt_version=prompt_version,
        retrieval_pool=len(apps.retrieval_pool),
        orchestra=tuple(m.name for m in P.orchestra.members),
        comparison=phase2.comparison_table(comparison, seed=P.run.seed),
    )
    per_app_figure(results).savefig(session.run.artifact("phase1_per_app.png"), dpi=100)
    common.finish(session, results)
    return results
