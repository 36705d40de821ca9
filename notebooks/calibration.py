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
from IPython.display import Markdown, display

from cetd_lib import session as cetd_session
from cetd_lib.studies import calibration
from cetd_lib.studies.common import figure_image, report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="calibration")
print("run:", s.run.dir)
print("ladder:", ", ".join(s.params.calibration.ladder))

# %% [markdown]
# ## Every rung through the orchestra
# `cetd_lib.studies.calibration.run`. App families: a seeded sample of `calibration.n_apps` apps
# per family (all of them when null); no model is trained here, so every split of a family may
# be used. `n_samples` rebuilds per app, rung and member at `temperature`; the bounds run once
# per family.
#
# Signal and verdict: gold − signature_only and gold − shuffled per app (paired bootstrap CIs,
# exact Wilcoxon p, Holm over the two) and the apps a paired t-test needs to detect a
# `calibration.effect_size` content difference at `calibration.power`. "carries content
# signal": both CIs above 0, both Holm p < 1 − `confidence`, and no step of the ladder inverts;
# "names only": gold − shuffled holds but gold − signature_only does not (the pass rate pays for
# the signature); otherwise "flat".
#
# With `calibration.likelihood_scorer` (a registered judge), every source rung is also scored by
# the stage-2 likelihood reward (the orchestra's mean log-prob per token of the stripped code,
# minus that given signature_only): mean gain per rung with a CI, its per-app rank correlation
# with the pass-rate gain, and whether stage 2 should use it (docs/calibration.md).

# %%
results = calibration.run(s)
print("report:", s.run.dir / "report.md")
for run in results.runs:
    for member, c in run.calibrations.items():
        print(f"{member} / {run.family}: {c.verdict} ({c.reason}); {c.signal.apps_needed_note}")
display(Markdown(report_markdown(results, "Verdicts", "Likelihood", "Ladder")))

# %% [markdown]
# ## Dose-response and signal
# Mean pass rate against the share of the app's own gold items in the list (a member that reads
# the requirements rises from left to right); gold − signature_only per member and family.

# %%
figures = calibration.figures(results)
figure_image(figures["calibration_dose_response"])

# %%
figure_image(figures["calibration_signal"])
