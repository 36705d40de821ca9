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
# # CET-D Phase 1: the retrieval baseline
#
# The seed's phase-1 row: for each val/test app, the gold requirements of the most similar
# *training* app (BM25 over code tokens, `cetd_lib.apps.retrieval`). Judged like every source: BLEU
# against the app's own gold, and the pass rate of its original tests on what the orchestra
# rebuilds from those borrowed requirements.
#
# Run headless: `python -m cetd_lib run notebooks/phase1.ipynb --params params/smoke.yaml`.

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
from cetd_lib.studies import phase1
from cetd_lib.studies.common import figure_image, report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="phase1")
print("run:", s.run.dir)

# %% [markdown]
# ## Retrieval, reconstruction by the orchestra, and BLEU against gold
# `cetd_lib.studies.phase1.run`: for every val and test app, the training app whose requirements
# it borrows (never its own gold), the orchestra's rebuild from them, and the pass rate of the
# app's tests on it; results.json, the summary and the report are written.

# %%
results = phase1.run(s)
print("report:", s.run.dir / "report.md")
for row in results.per_app:
    print(f"{row['app_id']:28s} <- {row['neighbour']:28s} BM25 {row['neighbour_score']:.1f}")
display(Markdown(report_markdown(results, "Phase 1")))

# %%
figure_image(phase1.per_app_figure(results))
