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
# # CET-D Phase 2: code → requirements
#
# A model reads an app's source and writes a numbered list of requirements; the orchestra rebuilds
# the app from the requirements alone and the app's original tests run on the rebuild. Stage 1
# trains on gold requirements, stage 2 on the guarded reconstruction reward.
#
# Run headless: `python -m cetd_lib run notebooks/phase2.ipynb --params params/smoke.yaml`.

# %% tags=["parameters"]
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
# CETD_PARAMS_FILE lets `make test` run the committed notebook (nbval) on params/tiny.yaml.
import os

params_file = os.environ.get("CETD_PARAMS_FILE", "../params/smoke.yaml")
run_id = ""
overrides = []

# %%
import dataclasses
import json

import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.evaluation import ladder, phase2  # noqa: F401 - ladder registers the controls
from cetd_lib.metrics import paired as paired_stats
from cetd_lib.models import load_extractor
from cetd_lib.tracking.figures import metrics_figure
from cetd_lib.tracking.report import criteria_table, timings_table, write_report
from cetd_lib.tracking.series import metric_group, metric_series
from cetd_lib.train.guard import guard_screen
from cetd_lib.train.pipeline import run_phase2_training

s = cetd_session.start(params_file, run_id, overrides, kind="phase2")
P = s.params
print("run:", s.run.dir)

# %% [markdown]
# ## Apps and splits
# Split by a seeded hash of the app id (no app in two splits); the manifest with content hashes
# goes into the run record.

# %%
apps = phase2.load_recorded_apps(P.data, s.run)
{name: [a.app_id for a in members] for name, members in apps.splits.items()}

# %% [markdown]
# ## Training: stage 1 (gold) then stage 2 (reconstruction reward behind the leak guard)
# Checkpoints land in `artifacts/stage1/` and `artifacts/stage2/`, where the ablation reads them.

# %%
backends = phase2.build_orchestra(P.orchestra)
stage1_dir, stage2_dir = run_phase2_training(P, apps, s.run, device=s.device, backends=backends)
train_summary = json.loads(s.run.artifact("train_summary.json").read_text())
print(timings_table(train_summary["timings"]))
print("guard rejections in stage 2:", len(train_summary["guard_rejections"]))
# RLOO learns only from reward differences within an app's group of samples
print("stage-2 samples the guard passed:", train_summary["guard_pass_share"])
print("within-group reward std per step:", train_summary["within_group_reward_std"])
if train_summary["within_group_likelihood_std"]:  # stage2.reward: likelihood | both
    print("within-group likelihood std per step:", train_summary["within_group_likelihood_std"])

# %%
# The live view above showed these while training; here the final curves, a panel per
# (stage, group): stage1/losses, stage1/eval, stage2/losses, stage2/rewards.
series = metric_series(s.run.metrics())
curves = [
    k
    for k in series
    if k.startswith(("stage1/", "stage2/")) and metric_group(k) in ("losses", "rewards", "eval")
]
fig = metrics_figure(series, curves, title=f"training curves, run {s.run.run_id}")
fig.savefig(s.run.artifact("training_curves.png"), dpi=100)
fig

# %% [markdown]
# ## Requirements from each source, on two row sets
# `gold` is the ceiling, `phase1` the retrieval baseline (gold of the nearest training app),
# `phase2_stage1` and `phase2_stage2` the trained extractors. Two row sets are evaluated apart:
# the `test` split and the `holdout` apps (`<apps_dir>/holdout/`: never split, never trained on;
# `eval.holdout: false` skips them).

# %%
rows = apps.row_sets("test", holdout=P.eval.holdout)
print({row_set: [a.app_id for a in members] for row_set, members in rows.items()})
extractors = {
    "phase2_stage1": load_extractor(stage1_dir),
    "phase2_stage2": load_extractor(stage2_dir),
}


def context(extractor=None):
    return phase2.SourceContext(
        train_apps=apps.retrieval_pool,
        extractor=extractor,
        context_level=P.eval.context_level,
        max_new_tokens=P.eval.max_new_tokens,
    )


def requirements_for(members):
    names = ("gold", *P.eval.control_sources, "phase1")  # controls: what the reward pays for
    out = {name: phase2.requirements_from(name, members, context()) for name in names}
    for row, extractor in extractors.items():
        out[row] = phase2.requirements_from("extractor", members, context(extractor))
    return out


requirements = {row_set: requirements_for(members) for row_set, members in rows.items()}
test_apps = rows["test"]
first = test_apps[0].app_id
print(f"stage 2 requirements for {first}:")
print("\n".join(requirements["test"]["phase2_stage2"][first][:10]))

# %% [markdown]
# ## Reconstruction by the orchestra, and BLEU against gold
# BLEU is sacrebleu's (sentence and corpus, numbering stripped, 0-1). Every list goes through the
# stage-2 leak guard first, as in training: a rejected list scores 0 and is counted. Holdout
# artifacts go to `artifacts/holdout/`.

# %%
screen = guard_screen(P.guard)
evaluations = {}  # row set -> source -> SourceEvaluation
for row_set, members in rows.items():
    where = "" if row_set == "test" else f"{row_set}/"
    evaluations[row_set] = {}
    for row, reqs in requirements[row_set].items():
        ev, rebuilt = phase2.evaluate_with_records(
            row,
            members,
            reqs,
            orchestra=P.orchestra,
            harness=P.harness,
            backends=backends,
            screen=screen,
        )
        evaluations[row_set][row] = ev
        s.run.log_metrics(
            0,
            **{
                f"eval/{where}{row}/bleu": ev.bleu,
                f"eval/{where}{row}/pass_rate": ev.pass_rate,
                f"eval/{where}{row}/share_apps_above_75": ev.share_apps_above_75,
                f"eval/{where}{row}/guard_pass_share": ev.guard_pass_share,
            },
        )
        s.run.artifact(f"{where}evaluation-{row}.json").write_text(phase2.to_json(ev.to_dict()))
        s.run.artifact(f"{where}reconstruction-{row}.json").write_text(
            phase2.to_json(rebuilt.to_dict())
        )
tables = {
    row_set: phase2.comparison_table(evs, seed=P.run.seed) for row_set, evs in evaluations.items()
}
ratios = {
    row_set: phase2.ratios_to_gold(
        evs, n_resamples=P.eval.n_resamples, confidence=P.eval.confidence, seed=P.run.seed
    )
    for row_set, evs in evaluations.items()
}
for row_set, table in tables.items():
    print(f"{row_set} ({len(rows[row_set])} apps)", table, sep="\n", end="\n\n")
    print(phase2.ratio_table(ratios[row_set], P.eval.confidence), end="\n\n")

# %% [markdown]
# ## Paired comparisons and the expected ranking
# Per row set: the per-app pass rates of two sources are compared by a paired bootstrap interval
# and a paired test; p-values are Holm-corrected over the row set's comparisons (raw ones beside).
# "gold > stage 2 > stage 1 > phase 1" is decided per adjacent pair by the corrected test at
# 1 - `eval.confidence`: holds / reversed / not resolved, never by point means.

# %%
analysis = {
    row_set: phase2.paired_analysis(
        evs,
        test=P.eval.paired_test,
        n_resamples=P.eval.n_resamples,
        confidence=P.eval.confidence,
        seed=P.run.seed,
    )
    for row_set, evs in evaluations.items()
}
alpha = 1 - P.eval.confidence
for row_set, (comparisons, ranking) in analysis.items():
    print(f"{row_set}:")
    print(paired_stats.comparisons_table(comparisons, alpha))
    print("\n".join(ranking.lines()), end="\n\n")

# %% [markdown]
# ## Seed targets
# The seed's success criteria for the Phase-2 model (stage 2) on the test split, as measured: met
# or missed.

# %%
model_eval = evaluations["test"]["phase2_stage2"]
criteria = phase2.success_criteria(model_eval, P.eval)
print(criteria_table(criteria))

# %%
fig, axes = plt.subplots(1, len(evaluations), figsize=(6 * len(evaluations), 3), squeeze=False)
for ax, (row_set, evs) in zip(axes[0], evaluations.items(), strict=True):
    for row, ev in evs.items():
        ax.hist(
            [v for v in ev.pass_rates.values() if v == v],
            bins=10,
            range=(0, 1),
            alpha=0.5,
            label=row,
        )
    ax.set_title(f"{row_set} ({len(rows[row_set])} apps)")
    ax.set_xlabel("pass rate of the original tests on the rebuild")
    ax.set_ylabel("apps")
    ax.legend()
fig.tight_layout()
fig.savefig(s.run.artifact("pass_rate_hist.png"), dpi=100)

# %%
by_row_set = {
    row_set: {
        "app_ids": [a.app_id for a in rows[row_set]],
        "by_source": {row: ev.to_dict() for row, ev in evs.items()},
        "comparisons": [c.to_dict() for c in analysis[row_set][0]],
        "ranking": analysis[row_set][1].to_dict(),
        "ratios_to_gold": [dataclasses.asdict(r) for r in ratios[row_set]],
        "apps_needed": {f"{c.a} vs {c.b}": c.apps_needed(alpha)[0] for c in analysis[row_set][0]},
    }
    for row_set, evs in evaluations.items()
}
results = {
    "source": "phase2_stage2",
    "bleu": model_eval.bleu,
    "corpus_bleu": model_eval.corpus_bleu,
    "pass_rate": model_eval.pass_rate,
    "share_apps_above_75": model_eval.share_apps_above_75,
    "n_apps": len(test_apps),
    "by_source": by_row_set["test"]["by_source"],
    "ranking": {row_set: block["ranking"]["verdict"] for row_set, block in by_row_set.items()},
    "by_row_set": by_row_set,
    "criteria": [
        {"name": c.name, "target": c.target, "value": c.value, "verdict": c.verdict}
        for c in criteria
    ],
    "training": train_summary,
}
s.run.write_summary(
    {
        **s.run.summary(),  # keeps the "phases" run_phase2_training recorded
        **{k: v for k, v in results.items() if k not in ("by_source", "by_row_set", "training")},
    }
)
(s.run.dir / "results.json").write_text(phase2.to_json(results))
sections = {
    "Setup": f"{len(test_apps)} test apps, {len(rows.get('holdout', []))} holdout apps; "
    f"extractor {P.extractor.variant} on "
    f"{P.extractor.base_model}; orchestra {[m.name for m in P.orchestra.members]}; "
    f"stage 1 {P.stage1.epochs} epoch(s), max {P.stage1.max_steps or 'all'} steps; "
    f"stage 2 max {P.stage2.max_steps or 'all'} steps",
}
for row_set, (comparisons, ranking) in analysis.items():
    sections[f"Sources ({row_set})"] = tables[row_set]
    sections[f"Share of gold's pass rate ({row_set})"] = phase2.ratio_table(
        ratios[row_set], P.eval.confidence
    )
    sections[f"Paired comparisons ({row_set})"] = paired_stats.comparisons_table(comparisons, alpha)
    sections[f"Expected ranking ({row_set})"] = "\n".join(f"- {line}" for line in ranking.lines())
sections["Seed targets (stage 2, test)"] = criteria_table(criteria)
sections["Training"] = "\n".join(
    [
        timings_table(train_summary["timings"]),
        "",
        f"- stage-2 samples the guard passed: {train_summary['guard_pass_share']:.3f} "
        f"({len(train_summary['guard_rejections'])} rejected)",
        "- within-group reward std per stage-2 step: "
        + ", ".join(f"{v:.3f}" for v in train_summary["within_group_reward_std"]),
        "- within-group likelihood-reward std per stage-2 step: "
        + (", ".join(f"{v:.3f}" for v in train_summary["within_group_likelihood_std"]) or "-"),
    ]
)
sections["Files"] = (
    "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
    "artifacts/holdout/, artifacts/stage1/, artifacts/stage2/, "
    "artifacts/training_curves.png, artifacts/pass_rate_hist.png"
)
report = write_report(s.run.dir / "report.md", f"Phase 2 run {s.run.run_id}", sections)
s.run.finish()
print("report:", report)

# %% [markdown]
# ## Training report
# Every phase that ran (stage 1, stage 2) with epochs, steps, wall time and throughput, the seed
# targets met or missed, and links to the dashboard and the checkpoints:
# `outputs/reports/training-<UTC time>.md` (the dashboard is rebuilt first).

# %%
from cetd_lib.tracking.report import write_training_report

training_report = write_training_report(P.run.outputs_dir, s.run)
print("training report:", training_report)
