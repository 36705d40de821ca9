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
# # Ablation: what the reconstructor is given
#
# The same apps, the same orchestra, different inputs: requirement sources (`gold`,
# `phase2_stage2`, `phase2_stage1`, `phase1`) and, as references, the app's own code at
# degradation levels 1-3 (`level1` full source, `level2` no comments/docstrings, `level3`
# signatures only), with a prompt that says it hands over (degraded) code.
#
# `phase2_stage*` come from the checkpoints of the phase-2 run named by `ablation.phase2_run_id`;
# without one, those rows are reported as not available. The ablation refuses to evaluate those
# checkpoints on an app their run trained on (or chose its checkpoint on). Two row sets are
# evaluated apart: `ablation.split` and the holdout apps (never trained on). The seed's expected
# ranking (gold > stage2 > stage1 > phase1) is decided per adjacent pair by Holm-corrected paired
# tests: holds / reversed / not resolved.
#
# Run headless: `python -m cetd_lib run notebooks/ablation.ipynb --params params/smoke.yaml
# -p ablation.phase2_run_id=<run>`.

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
from cetd_lib.studies import ablation
from cetd_lib.studies.common import figure_image, report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="ablation")
print("run:", s.run.dir)

# %% [markdown]
# ## Every condition through the orchestra, on each row set
# `cetd_lib.studies.ablation.run`. Each app is scored under every condition, so differences are
# taken per app: a paired bootstrap interval of the mean difference, and a sign or Wilcoxon
# signed-rank test whose p-values are Holm-corrected over the row set's comparisons (raw p
# beside). The seed's expected ranking is decided by the corrected tests.

# %%
results = ablation.run(s)
print("report:", s.run.dir / "report.md")
display(Markdown(report_markdown(results, "Pass rate", "Paired", "Expected")))

# %% [markdown]
# ## Per-app pass rates (the paired data)

# %%
display(Markdown(report_markdown(results, "Per-app")))

# %%
figure_image(ablation.pass_rate_figure(results))
