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
# # Multi-task model: objectives, curriculum, evaluation
#
# One shared backbone (the base causal LM with LoRA) and three classification heads, trained by
# the seed's curriculum: code-only (span-masked LM + FIM) until val loss < 3.5 → simple ontology
# (utilization > 80%) → multi-hop ontology (pass@1 +5% over code-only) → all tasks with
# uncertainty-weighted losses until the val loss plateaus. Gates that are not met fall back to the
# phase's max epochs and are logged as "gate missed". The best joint checkpoint is exported to
# `<outputs>/models/final/`; held-out metrics are in `results.json` (docs/multitask_train.md).
#
# Run headless: `python -m cetd_lib run notebooks/multitask.ipynb --params params/smoke.yaml`.

# %% tags=["parameters"]
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
# CETD_PARAMS_FILE lets `make test` run the committed notebook (nbval) on params/tiny.yaml.
import os

params_file = os.environ.get("CETD_PARAMS_FILE", "../params/smoke.yaml")
run_id = ""
overrides = []

# %%
import json

from IPython.display import Markdown, display

from cetd_lib import session as cetd_session
from cetd_lib.multitask.train import summary_table
from cetd_lib.studies import multitask
from cetd_lib.studies.common import figure_image, report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="multitask")
cfg = s.params.multitask_train
print(cfg.base_model, "phases (max epochs):", cfg.phase_epochs)

# %% [markdown]
# ## The study: `cetd_lib.studies.multitask.run`
# Data, the model, the curriculum with its gates, the exported best checkpoint and the held-out
# evaluation; results.json, the summary, the report and a training report are written.

# %%
results = multitask.run(s)
print(json.dumps(summary_table(results.evaluation), indent=2))
print("report:", s.run.dir / "report.md")
print("training report:", results.training_report)
display(Markdown(report_markdown(results, "Gates", "Seed targets", "Measured")))

# %%
figure_image(multitask.val_loss_figure(results))
