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

import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.multitask.train import (
    run_multitask,
    summary_table,
    targets_markdown,
    untargeted_markdown,
)
from cetd_lib.tracking.live import LiveMetrics
from cetd_lib.tracking.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="multitask")
P = s.params
print(P.multitask_train.base_model, "phases (max epochs):", P.multitask_train.phase_epochs)

# %%
with LiveMetrics.from_config(s.run, P.dashboard, report_to=P.run.report_to) as live:
    results = run_multitask(P, s.run, live=live)
print(json.dumps(summary_table(results), indent=2))

# %%
fig, ax = plt.subplots(figsize=(7, 3))
epochs = results["epochs"]
ax.plot([e["epoch"] for e in epochs], [e["val/loss"] for e in epochs], marker="o")
for e in epochs:
    ax.annotate(e["phase"].split("_")[0], (e["epoch"], e["val/loss"]), fontsize=7)
ax.set_xlabel("epoch")
ax.set_ylabel("val loss (phase's tasks)")
fig.tight_layout()
fig.savefig(s.run.artifact("multitask_val_loss.png"))

# %%
gates = "\n".join(
    f"- {g['phase']}: **{g['event']}** ({g.get('gate') or 'plateau'}, value {g.get('value')})"
    for g in results["gates"]
)
cfg = P.multitask_train
report = write_report(
    s.run.dir / "report.md",
    f"Multi-task run {s.run.run_id}",
    {
        "Setup": f"base {cfg.base_model}; max epochs {cfg.phase_epochs}",
        "Gates": gates,
        "Seed targets": targets_markdown(results),
        "Measured without a seed target": untargeted_markdown(results),
        "Files": "results.json, artifacts/multitask/events.json, "
        "artifacts/multitask/best/, artifacts/multitask_val_loss.png",
    },
)
s.run.finish()
print("report:", report)

# %%
from cetd_lib.tracking.report import write_training_report

training_report = write_training_report(P.run.outputs_dir, s.run)
print("training report:", training_report)
