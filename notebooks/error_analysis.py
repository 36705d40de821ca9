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
from pathlib import Path

import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.evaluation import ablation, phase2
from cetd_lib.evaluation import error_analysis as ea
from cetd_lib.tracking.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="error_analysis")
P, A = s.params, s.params.ablation
print("run:", s.run.dir)

# %%
if A.analysis_run_id:
    analysed = Path(P.run.outputs_dir) / "runs" / A.analysis_run_id
    runs = ea.load_run(analysed)
else:
    analysed = None
    apps = phase2.load_phase2_apps(
        P.data.apps_dir,
        include_humaneval=P.data.include_humaneval,
        max_apps=P.data.max_apps,
        data_config=P.data,
    )
    results = ablation.run_conditions(
        ea.SELF_EVALUATION_SOURCES,
        apps[A.split],
        train_apps=apps.retrieval_pool,
        orchestra=P.orchestra,
        harness=P.harness,
        backends=phase2.build_orchestra(P.orchestra),
        outputs_dir=P.run.outputs_dir,
    )
    for result in results.values():
        ablation.save_condition(result, s.run.artifact)
    runs = ea.runs_from_conditions(results)
print(
    "analysed:",
    analysed or "an evaluation run here",
    {name: f"{run.pass_rate:.3f}" for name, run in runs.items()},
)

# %% [markdown]
# ## Failure classes
# Failing gold tests per class, over every sample of every member.

# %%
failures = ea.failure_table(runs)
classes = list(next(iter(failures.values()), {}))
failure_md = ea.markdown_table(
    ["source", *classes], [[n, *counts.values()] for n, counts in failures.items()]
)
print(failure_md)
fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(failures)))
ea.plot_failure_classes(failures, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("failure_classes.png"), dpi=100)
suspects = ea.reward_hack_suspects(runs)
print("REWARD_HACK_SUSPECT tests per source:", suspects)

# %% [markdown]
# ## Worst apps

# %%
worst = ea.worst_apps(runs, A.n_worst_apps)
worst_md = ea.markdown_table(
    ["app", "mean", *runs],
    [[w["app_id"], w["mean_pass_rate"], *w["by_source"].values()] for w in worst],
)
print(worst_md)

# %% [markdown]
# ## By degradation level and by orchestra member
# Level 1-3: the reconstructor read the app's code (full, stripped, signatures); level 4: gold
# requirements alone. Sources that are no level (phase1, extractors) appear only by member.

# %%
levels = ea.by_level(runs)
level_md = (
    ea.markdown_table(
        ["level", "source", "pass rate", "top failure class"],
        [
            [
                lv,
                row["source"],
                row["pass_rate"],
                max(row["failure_counts"], key=row["failure_counts"].get, default="—"),
            ]
            for lv, row in levels.items()
        ],
    )
    if levels
    else "no degradation-level sources in this run"
)
print(level_md)
members = ea.by_member(runs)
member_md = ea.markdown_table(
    ["source", "member", "pass rate", "failure classes"],
    [
        [
            n,
            m,
            row["pass_rate"],
            row["failure_counts"]
            if row["failure_counts"] is not None
            else "(no records in this run)",
        ]
        for n, rows in members.items()
        for m, row in rows.items()
    ],
)
print(member_md)

# %% [markdown]
# ## Samples: requirements → rebuild → test output

# %%
examples = ea.sample_examples(runs, A.n_examples)
if not examples:
    print("no reconstruction records in this run (phase2.ipynb writes evaluation-*.json only)")
for example in examples:
    print(example.render(max_chars=1200))

# %%
payload = {
    "analysed_run": str(analysed) if analysed else None,
    "pass_rate": {n: run.pass_rate for n, run in runs.items()},
    "failure_counts": failures,
    "failure_shares": {n: ea.shares(c) for n, c in failures.items()},
    "reward_hack_suspects": suspects,
    "worst_apps": worst,
    "by_level": levels,
    "by_member": members,
    "examples": [
        {
            "source": e.source,
            "app_id": e.app_id,
            "member": e.member,
            "sample": e.sample,
            "failure": e.failure,
            "pass_rate": e.pass_rate,
        }
        for e in examples
    ],
}
s.run.write_summary({"analysed_run": payload["analysed_run"], "pass_rate": payload["pass_rate"]})
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
report = write_report(
    s.run.dir / "report.md",
    f"Error analysis {s.run.run_id}",
    {
        "Analysed": payload["analysed_run"] or "an evaluation run in this notebook",
        "Failure classes": failure_md,
        "Worst apps": worst_md,
        "By degradation level": level_md,
        "By orchestra member": member_md,
        "Samples": "\n".join(e.render(max_chars=800) for e in examples) or "(no records)",
    },
)
s.run.finish()
print("report:", report)
