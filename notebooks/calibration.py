# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Orchestra calibration: is there a signal to reward?
#
# Before a reconstruction pass rate becomes a reward or a metric: does it move with the quality of
# the requirements? Each orchestra member rebuilds the same apps from a ladder of requirement
# sources whose quality is known by construction (gold, gold with 25/50/75% of the items beyond
# the signature dropped, the gold of another app, module names only), the control
# `signature_only` (the app's public signatures and nothing else) and the harness bounds
# (`oracle`: the original source, `null`: nothing). Per member and app family: pass rate per rung
# with a paired bootstrap CI, pass@k, a dose-response plot, gold − signature_only and
# gold − shuffled with the number of apps a 5-point content difference needs, and a verdict
# (docs/calibration.md).
#
# Run headless: `python -m cetd_lib run notebooks/calibration.ipynb --params params/smoke.yaml`.

# %% tags=["parameters"]
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
# CETD_PARAMS_FILE lets `make test` run the committed notebook (nbval) on params/tiny.yaml.
import os

params_file = os.environ.get("CETD_PARAMS_FILE", "../params/smoke.yaml")
run_id = ""
overrides = []

# %%
import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.evaluation import calibration, calibration_report, phase2
from cetd_lib.tracking.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="calibration")
P, C = s.params, s.params.calibration
print("run:", s.run.dir)
print("ladder:", ", ".join(C.ladder))

# %% [markdown]
# ## App families
# A seeded sample of `calibration.n_apps` apps per family (all of them when null). No model is
# trained here, so every split of a family may be used.

# %%
families = {f: calibration.load_family(f, P.data.apps_dir, C.n_apps, C.seed) for f in C.families}
s.run.add_data_hashes(
    {f"app:{a.app_id}": a.content_hash() for apps in families.values() for a in apps}
)
{f: [a.app_id for a in apps] for f, apps in families.items()}

# %% [markdown]
# ## Every rung through the orchestra
# `n_samples` rebuilds per app, rung and member at `temperature`; the bounds run once per family.

# %%
backends = phase2.build_orchestra(P.orchestra)
runs = []
for step, (family, apps) in enumerate(families.items()):
    run = calibration.calibrate_family(
        family, apps, config=C, orchestra=P.orchestra, harness=P.harness, backends=backends
    )
    runs.append(run)
    for member, c in run.calibrations.items():
        s.run.log_metrics(
            step,
            **{f"calibration/{member}/{family}/{r}/pass_rate": v.mean for r, v in c.rungs.items()},
        )
        print(f"### {member} on {family} ({len(c.app_ids)} apps)")
        print(calibration_report.ladder_table(c))

# %% [markdown]
# ## Dose-response
# Mean pass rate against the share of the app's own gold items in the list; a member that reads
# the requirements rises from left to right.

# %%
fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.5), squeeze=False)
for run, ax in zip(runs, axes[0], strict=True):
    calibration_report.plot_dose_response(run, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("calibration_dose_response.png"), dpi=100)

# %% [markdown]
# ## Signal and verdict
# gold − signature_only and gold − shuffled per app (paired bootstrap CIs, exact Wilcoxon p,
# Holm over the two) and the apps a paired t-test needs to detect a `calibration.effect_size`
# content difference at `calibration.power`. "carries content signal": both CIs above 0, both
# Holm p < 1 − `confidence`, and no step of the ladder inverts; "names only": gold − shuffled
# holds but gold − signature_only does not (the pass rate pays for the signature); otherwise
# "flat".

# %%
rows = sum(len(run.calibrations) for run in runs)
fig, ax = plt.subplots(figsize=(7, 1 + 0.5 * rows))
calibration_report.plot_signal(runs, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("calibration_signal.png"), dpi=100)
verdicts = calibration_report.verdict_table(runs)
print(verdicts)
for run in runs:
    for member, c in run.calibrations.items():
        print(f"{member} / {run.family}: {c.verdict} ({c.reason}); {c.signal.apps_needed_note}")

# %% [markdown]
# ## The likelihood reward on the same ladder
# With `calibration.likelihood_scorer` (a registered judge), every source rung is also scored by
# the stage-2 likelihood reward (the orchestra's mean log-prob per token of the stripped code,
# minus that given signature_only): mean gain per rung with a CI, its per-app rank correlation
# with the pass-rate gain, and whether stage 2 should use it (docs/calibration.md).

# %%
calibration.calibrate_likelihood(
    runs, families, backends, config=C, prompt_version=P.orchestra.prompt_version
)
if C.likelihood_scorer:
    print(calibration_report.likelihood_table(runs))

# %%
payload = {
    **calibration.results_payload(runs, C),
    "orchestra": {
        "members": [m.name for m in P.orchestra.members],
        "max_new_tokens": P.orchestra.max_new_tokens,
        "seed": P.orchestra.seed,
    },
    "prompt_version": P.orchestra.prompt_version,
}
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
seconds = {r.family: round(sum(m.seconds for m in r.measurements.values())) for r in runs}
s.run.write_summary(
    {f"verdict/{m}/{f}": v for m, by in payload["verdicts"].items() for f, v in by.items()}
)
report = write_report(
    s.run.dir / "report.md",
    f"Calibration run {s.run.run_id}",
    {
        "Setup": f"families {list(C.families)}; {C.n_samples} samples at temperature "
        f"{C.temperature}; orchestra {[m.name for m in P.orchestra.members]}; "
        f"seconds per family {seconds}",
        "Verdicts": verdicts,
        **(
            {"Likelihood reward": calibration_report.likelihood_table(runs)}
            if C.likelihood_scorer
            else {}
        ),
        **{
            f"Ladder: {m} on {run.family}": calibration_report.ladder_table(c)
            for run in runs
            for m, c in run.calibrations.items()
        },
        "Files": "results.json, artifacts/calibration_dose_response.png, "
        "artifacts/calibration_signal.png",
    },
)
s.run.finish()
print("report:", report)
