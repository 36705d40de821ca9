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
# # Error analysis of reconstructions
#
# Why rebuilt apps fail: failure classes (docs/harness.md), the worst apps, failures by
# degradation level and by orchestra member, and sample requirement → rebuild → test-output
# triples. Reads the run named by `ablation.analysis_run_id` (a phase-2 or ablation run); with
# none, it evaluates gold, phase1 and level-3 code (`SELF_EVALUATION_SOURCES`) on a few apps.
#
# Run headless: `python -m cetd_lib run notebooks/error_analysis.ipynb --params params/smoke.yaml
# -p ablation.analysis_run_id=<run>`.

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
from cetd_lib.studies import error_analysis
from cetd_lib.studies.common import figure_image, report_markdown

s = cetd_session.start(params_file, run_id, overrides, kind="error_analysis")
print("run:", s.run.dir)

# %% [markdown]
# ## The analysis: `cetd_lib.studies.error_analysis.run`
# Failing gold tests per class, over every sample of every member; the tests classed
# REWARD_HACK_SUSPECT per source; the worst apps. By degradation level: levels 1-3, the
# reconstructor read the app's code (full, stripped, signatures); level 4, gold requirements
# alone. Sources that are no level (phase1, extractors) appear only by member.

# %%
results = error_analysis.run(s)
print("analysed:", results.analysed_run or "an evaluation run here")
print("report:", s.run.dir / "report.md")
display(Markdown(report_markdown(results, "Failure", "Reward", "Worst", "By ")))

# %%
figure_image(error_analysis.failure_figure(results))

# %% [markdown]
# ## Samples: requirements → rebuild → test output

# %%
for example in results.examples:
    print(example.render(max_chars=1200))
