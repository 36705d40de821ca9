"""Mutation RL: RL on the mutation kill rate of generated tests, and the held-out mutation score
before and after (`cetd_lib.mutation_rl.rl.run_mutation_rl`, docs/mutation.md).

The shared table has one row set, `heldout` (the held-out modules), and two sources, `before_rl`
and `after_rl`, with the mutation score and the share of usable generations; the run's summary
(`mutation_rl/...`, with the plain verdict) sits beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cetd_lib.mutation_rl import rl
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.report import write_training_report
from cetd_lib.tracking.results import Estimate, ResultsTable, SourceRow

ROW_SET = "heldout"


@dataclass(frozen=True)
class MutationRLResults:
    title: ClassVar[str] = "Mutation RL run"
    table: ResultsTable
    rl_summary: dict[str, Any]  # what run_mutation_rl summarised (mutation_rl/...)
    training_report: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.table.to_dict(), "summary": self.rl_summary}

    def summary(self) -> dict[str, Any]:
        return dict(self.rl_summary)

    def report_sections(self) -> dict[str, str]:
        s = self.rl_summary
        return {
            "Setup": f"{s['mutation_rl/algorithm']} on {s['mutation_rl/base_model']}, "
            f"{s['mutation_rl/steps']} steps; training modules {s['mutation_rl/train_modules']}; "
            f"held-out modules {s['mutation_rl/heldout_modules']}",
            "Verdict": s["mutation_rl/verdict"],
            "Held-out mutation score": "\n".join(
                [
                    "| | mutation score | usable generations |",
                    "|---|---|---|",
                    f"| before RL | {s['mutation_rl/score_before']:.3f} | "
                    f"{s['mutation_rl/usable_share_before']:.3f} |",
                    f"| after RL | {s['mutation_rl/score_after']:.3f} | "
                    f"{s['mutation_rl/usable_share_after']:.3f} |",
                ]
            ),
            "Files": "results.json, artifacts/mutation_rl/eval.json, "
            "artifacts/mutation_rl/train.json, artifacts/mutation_rl/trl/",
        }


def table_of(session: Session, summary: dict[str, Any]) -> ResultsTable:
    """The held-out scores before and after RL as the shared table."""
    n = len(summary["mutation_rl/heldout_modules"])
    rows = {
        f"{when}_rl": SourceRow(
            n_apps=n,
            metrics={
                "mutation_score": Estimate.of(summary[f"mutation_rl/score_{when}"]),
                "usable_share": Estimate.of(summary[f"mutation_rl/usable_share_{when}"]),
            },
        )
        for when in ("before", "after")
    }
    modules = summary["mutation_rl/heldout_modules"]
    return common.table(session, {ROW_SET: (modules, rows)}, confidence=0.95)


def run(session: Session) -> MutationRLResults:
    """RL, the held-out scores before and after; writes results.json, summary, report and a
    training report, and completes the run."""
    P = session.params
    summary = rl.run_mutation_rl(
        P.mutation_rl,
        session.run,
        harness=P.harness,
        dashboard=P.dashboard,
        apps_dir=P.data.apps_dir,
        report_to=P.run.report_to,
    )
    results = MutationRLResults(table_of(session, summary), summary)
    common.finish(session, results, keep_summary=True)
    report = write_training_report(session.params.run.outputs_dir, session.run)
    return MutationRLResults(results.table, summary, report)
