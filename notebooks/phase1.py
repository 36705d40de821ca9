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
import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.apps.retrieval import Phase1Retriever
from cetd_lib.evaluation import phase2
from cetd_lib.metrics.bleu import bootstrap_ci, sentence_bleu
from cetd_lib.tracking.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="phase1")
P = s.params
print("run:", s.run.dir)

# %%
apps = phase2.load_recorded_apps(P.data, s.run)
splits = ("val", "test")
{split: [a.app_id for a in apps[split]] for split in splits}

# %% [markdown]
# ## Retrieval
# The training app whose requirements each evaluated app borrows (never its own gold).

# %%
retriever = Phase1Retriever(apps.retrieval_pool)
neighbours = {app.app_id: retriever.nearest(app)[0] for split in splits for app in apps[split]}
ctx = phase2.SourceContext(train_apps=apps.retrieval_pool)
requirements = {split: phase2.requirements_from("phase1", apps[split], ctx) for split in splits}
for app_id, n in neighbours.items():
    print(f"{app_id:28s} <- {n.app.app_id:28s} BM25 {n.score:.1f}")

# %% [markdown]
# ## Reconstruction by the orchestra, and BLEU against gold

# %%
backends = phase2.build_orchestra(P.orchestra)
evaluations, reconstructions = {}, {}
for step, split in enumerate(splits):
    ev, rebuilt = phase2.evaluate_with_records(
        f"phase1_{split}",
        apps[split],
        requirements[split],
        orchestra=P.orchestra,
        harness=P.harness,
        backends=backends,
    )
    evaluations[split], reconstructions[split] = ev, rebuilt
    s.run.log_metrics(
        step,
        split=split,
        bleu=ev.bleu,
        corpus_bleu=ev.corpus_bleu,
        pass_rate=ev.pass_rate,
        share_apps_above_75=ev.share_apps_above_75,
    )
    s.run.artifact(f"evaluation-phase1_{split}.json").write_text(phase2.to_json(ev.to_dict()))
    s.run.artifact(f"reconstruction-phase1_{split}.json").write_text(
        phase2.to_json(rebuilt.to_dict())
    )
table = phase2.comparison_table(
    {f"phase1 ({k})": v for k, v in evaluations.items()}, seed=P.run.seed
)
print(table)

# %%
per_app = []
for split in splits:
    for app in apps[split]:
        bleu = sentence_bleu(
            format_requirements(requirements[split][app.app_id]),
            format_requirements(app.requirements),
        )
        per_app.append(
            {
                "split": split,
                "app_id": app.app_id,
                "neighbour": neighbours[app.app_id].app.app_id,
                "bleu": bleu,
                "pass_rate": evaluations[split].pass_rates[app.app_id],
            }
        )
fig, ax = plt.subplots(figsize=(7, 3))
labels = [f"{r['app_id']} ({r['split']})" for r in per_app]
x = range(len(per_app))
ax.bar([i - 0.2 for i in x], [r["bleu"] for r in per_app], width=0.4, label="BLEU vs gold")
ax.bar([i + 0.2 for i in x], [r["pass_rate"] for r in per_app], width=0.4, label="pass rate")
ax.set_xticks(list(x), labels, rotation=30, ha="right")
ax.set_ylim(0, 1.05)
ax.legend()
fig.tight_layout()
fig.savefig(s.run.artifact("phase1_per_app.png"), dpi=100)

# %%
results = {
    "source": "phase1",
    "n_apps": {k: len(apps[k]) for k in splits},
    "by_split": {},
    "per_app": per_app,
}
for split, ev in evaluations.items():
    low, high = bootstrap_ci([v for v in ev.pass_rates.values() if v == v], seed=P.run.seed)
    results["by_split"][split] = {
        "bleu": ev.bleu,
        "corpus_bleu": ev.corpus_bleu,
        "pass_rate": ev.pass_rate,
        "pass_rate_ci": [low, high],
        "share_apps_above_75": ev.share_apps_above_75,
        "failure_counts": ev.failure_counts,
        "prompt_version": reconstructions[split].prompt_version,
    }
s.run.write_summary(
    {f"{k}/{m}": v[m] for k, v in results["by_split"].items() for m in ("bleu", "pass_rate")}
)
(s.run.dir / "results.json").write_text(phase2.to_json(results))
report = write_report(
    s.run.dir / "report.md",
    f"Phase 1 run {s.run.run_id}",
    {
        "Setup": f"{results['n_apps']} apps; retrieval pool {len(apps.retrieval_pool)} training "
        f"apps; orchestra {[m.name for m in P.orchestra.members]}",
        "Phase 1 (retrieval) by split": table,
        "Files": "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
        "artifacts/phase1_per_app.png",
    },
)
s.run.finish()
print("report:", report)
