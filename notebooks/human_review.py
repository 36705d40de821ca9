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
# # Blind side-by-side review of requirements (or explanations)
#
# Two requirement sources for the same app, side by side, sides drawn at random per item: you
# never learn which list is which. Score each list 1–5 on accuracy, completeness, clarity and
# rebuildability, pick the better one (or tie) and say why. Every answer is saved at once (SQLite);
# rerun the notebook to resume where you stopped. Some items come back later on purpose
# (self-consistency).
#
# With `review.kind=explanation` the sides are two explanations of one lint/security finding
# from a multi-task run (`review.source_run`): the model's and the reference built from the rule's
# docs, scored 1–5 on correctness, clarity and helpfulness; the summary then gives the
# explanation rating against the seed target (> 3.5/5).
#
# Review options live in the `review:` params section, set with overrides, e.g.
# `overrides = ["review.rater=ab", "review.n_items=10"]` or
# `overrides = ["review.rater=ab", "review.kind=explanation", "review.source_run=<multitask run>"]`
# (see docs/review.md). Headless
# (`python -m cetd_lib run notebooks/human_review.ipynb --params params/tiny.yaml`) nothing waits
# for input: the form is built but only the summary of the ratings stored so far is reported.

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

from cetd_lib import review
from cetd_lib import session as cetd_session
from cetd_lib.studies import review as review_study
from cetd_lib.studies.common import report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="human_review")
print("run:", s.run.dir)

# %% [markdown]
# ## Items
# Requirements: from the newest phase2 run's `artifacts/evaluation-<source>.json` (or
# `review.source_run`); without one the review falls back to gold vs the phase-1 retrieval
# baseline and says so below. Explanations: the samples in the multitask run's `results.json`.

# %%
opened = review_study.start(s)
rs = opened.session
print(opened.material.note)
print(rs.describe(), "· kind:", rs.kind.name, "· rubric:", ", ".join(rs.kind.criteria))
print("store:", rs.store.path)

# %% [markdown]
# ## Rate
# Tab through the score buttons (Space picks), or type the whole answer in the quick-entry box:
# `4534 | 3425 | L | why` (left scores, right scores, L/R/T, rationale) and press Enter; one
# digit per criterion, so an explanation answer has three (`453 | 342 | L | why`).
# The code pane is collapsed: click **Code** to read the app (or the finding and its code).

# %%
review.ReviewWidget(rs)

# %% [markdown]
# Where widgets do not render (a console, a plain viewer), use the text form instead:
# `print(review.text_form(item))` then `rs.submit_text(item.item_id, "4534 | 3425 | L | why")`
# (for explanations `"453 | 342 | L | why"`).

# %%
item = rs.items[rs.resume_index()]
print(review.text_form(item, total=len(rs.items)))

# %% [markdown]
# ## Summary of stored ratings
# Win rate per source (ties excluded, Wilson 95% CI), mean rubric scores, a left-side bias check
# (two-sided binomial test), self-consistency on repeated items, and inter-rater agreement
# (quadratic-weighted Cohen's kappa, Krippendorff's ordinal alpha) once two raters share items.
# For explanations also the seed target: the mean of the model's scores > 3.5 (met / missed /
# not rated).

# %%
results = review_study.run(s, opened)
display(Markdown(report_markdown(results, "Ratings", "Seed target")))
print({k: str(v) for k, v in results.files.items()})
