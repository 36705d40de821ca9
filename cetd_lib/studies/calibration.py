"""Orchestra calibration: does the reconstruction pass rate move with the quality of the
requirements? Each member rebuilds the same apps from a ladder of sources of known quality
(docs/calibration.md); per member and app family: pass rate per rung with a paired bootstrap
CI, the content and names signals, and a verdict; with `calibration.likelihood_scorer`, the
likelihood reward on the same ladder.

In the shared table a row set is an app family and a source is `<member>/<rung>`. Beside it,
results.json keeps `calibration.results_payload` (`per_app`, `verdicts`, `calibration`, ...),
which `train.selection` reads back for stage 2's app selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from matplotlib.figure import Figure

from cetd_lib.evaluation import calibration, calibration_report, phase2
from cetd_lib.evaluation.calibration import FamilyRun
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.results import Estimate, ResultsTable, SourceRow


@dataclass(frozen=True)
class CalibrationResults:
    title: ClassVar[str] = "Calibration run"
    table: ResultsTable
    runs: tuple[FamilyRun, ...]
    payload: dict[str, Any]  # calibration.results_payload + the orchestra it measured
    likelihood: bool  # whether the likelihood reward was calibrated too
    setup: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.table.to_dict(), **self.payload}

    def summary(self) -> dict[str, Any]:
        verdicts = self.payload["verdicts"]
        return {f"verdict/{m}/{f}": v for m, by in verdicts.items() for f, v in by.items()}

    def report_sections(self) -> dict[str, str]:
        return {
            "Setup": self.setup,
            "Verdicts": calibration_report.verdict_table(self.runs),
            **(
                {"Likelihood reward": calibration_report.likelihood_table(self.runs)}
                if self.likelihood
                else {}
            ),
            **{
                f"Ladder: {m} on {run.family}": calibration_report.ladder_table(c)
                for run in self.runs
                for m, c in run.calibrations.items()
            },
            "Files": "results.json, artifacts/calibration_dose_response.png, "
            "artifacts/calibration_signal.png",
        }


def figures(results: CalibrationResults) -> dict[str, Figure]:
    """`calibration_dose_response` (pass rate against the share of own gold items, per family)
    and `calibration_signal` (gold - signature_only per member and family, with its CI)."""
    runs = results.runs
    dose = Figure(figsize=(5 * len(runs), 3.5))
    for run, ax in zip(runs, dose.subplots(1, len(runs), squeeze=False)[0], strict=True):
        calibration_report.plot_dose_response(run, ax)
    dose.tight_layout()
    signal = Figure(figsize=(7, 1 + 0.5 * sum(len(r.calibrations) for r in runs)))
    calibration_report.plot_signal(runs, signal.subplots())
    signal.tight_layout()
    return {"calibration_dose_response": dose, "calibration_signal": signal}


def _table_rows(run: FamilyRun) -> tuple[list[str], dict[str, SourceRow]]:
    rows = {}
    for member, c in run.calibrations.items():
        for rung, s in c.rungs.items():
            metrics = {"pass_rate": Estimate.of(s.mean, (s.ci_low, s.ci_high))}
            metrics |= {f"pass@{k}": Estimate.of(v) for k, v in s.pass_at_k.items()}
            rows[f"{member}/{rung}"] = SourceRow(n_apps=s.n_apps, metrics=metrics)
    return run.app_ids, rows


def run(session: Session) -> CalibrationResults:
    """Measure every rung on every family (and the likelihood reward when configured); writes
    results.json, summary, report and the two figures, and completes the run."""
    P, C, record = session.params, session.params.calibration, session.run
    families = {
        f: calibration.load_family(f, P.data.apps_dir, C.n_apps, C.seed) for f in C.families
    }
    record.add_data_hashes(
        {f"app:{a.app_id}": a.content_hash() for apps in families.values() for a in apps}
    )
    backends = phase2.build_orchestra(P.orchestra)
    runs = []
    for step, (family, apps) in enumerate(families.items()):
        found = calibration.calibrate_family(
            family, apps, config=C, orchestra=P.orchestra, harness=P.harness, backends=backends
        )
        runs.append(found)
        for member, c in found.calibrations.items():
            record.log_metrics(
                step,
                **{
                    f"calibration/{member}/{family}/{r}/pass_rate": v.mean
                    for r, v in c.rungs.items()
                },
            )
    calibration.calibrate_likelihood(
        runs, families, backends, config=C, prompt_version=P.orchestra.prompt_version
    )
    payload = {
        **calibration.results_payload(runs, C),
        "orchestra": {
            "members": [m.name for m in P.orchestra.members],
            "max_new_tokens": P.orchestra.max_new_tokens,
            "seed": P.orchestra.seed,
        },
        "prompt_version": P.orchestra.prompt_version,
    }
    seconds = {r.family: round(sum(m.seconds for m in r.measurements.values())) for r in runs}
    results = CalibrationResults(
        table=common.table(session, {r.family: _table_rows(r) for r in runs}, C.confidence),
        runs=tuple(runs),
        payload=payload,
        likelihood=bool(C.likelihood_scorer),
        setup=f"families {list(C.families)}; {C.n_samples} samples at temperature "
        f"{C.temperature}; orchestra {[m.name for m in P.orchestra.members]}; "
        f"seconds per family {seconds}",
    )
    for name, fig in figures(results).items():
        fig.savefig(record.artifact(f"{name}.png"), dpi=100)
    common.finish(session, results)
    return results
