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
# # Training dashboard
#
# One self-contained HTML file over every run record under `run.outputs_dir`: runs table, loss /
# reward / metric curves, pass-rate distributions, ablation charts and an error analysis. It opens
# from disk with no network (`outputs/dashboard/index.html`); this notebook also shows it inline.
#
# Run headless: `python -m cetd_lib run notebooks/dashboard.ipynb --params params/smoke.yaml`.

# %% tags=["parameters"]
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
# CETD_PARAMS_FILE lets `make test` run the committed notebook (nbval) on params/tiny.yaml.
import os

params_file = os.environ.get("CETD_PARAMS_FILE", "../params/smoke.yaml")
run_id = ""
overrides = []

# %%
from IPython.display import HTML

from cetd_lib import session as cetd_session
from cetd_lib.tracking import dashboard

s = cetd_session.start(params_file, run_id, overrides, kind="dashboard")
P = s.params

# %%
path = dashboard.build_dashboard(P.run.outputs_dir, config=P.dashboard)
runs = dashboard.load_runs(P.run.outputs_dir, exclude_kinds=P.dashboard.exclude_kinds)
print(f"{len(runs)} run(s) -> {path}")
HTML(dashboard.notebook_html(path))

# %%
s.run.write_summary({"n_runs": len(runs), "dashboard": str(path)})
s.run.finish()
