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
import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.evaluation import ablation, phase2
from cetd_lib.tracking.report import write_report
from cetd_lib.train.guard import guard_screen

s = cetd_session.start(params_file, run_id, overrides, kind="ablation")
P, A = s.params, s.params.ablation
print("run:", s.run.dir)

# %%
apps = phase2.load_recorded_apps(P.data, s.run)
rows = apps.row_sets(A.split, holdout=A.holdout)
eval_apps = rows[A.split]
{row_set: [a.app_id for a in members] for row_set, members in rows.items()}

# %% [markdown]
# ## Every condition through the orchestra, on each row set

# %%
backends = phase2.build_orchestra(P.orchestra)
results, summary = {}, {}
for row_set, members in rows.items():
    results[row_set] = ablation.run_conditions(
        A.sources,
        members,
        train_apps=apps.retrieval_pool,
        orchestra=P.orchestra,
        harness=P.harness,
        backends=backends,
        outputs_dir=P.run.outputs_dir,
        phase2_run_id=A.phase2_run_id,
        extractor_context_level=P.eval.context_level,
        max_new_tokens=P.eval.max_new_tokens,
        screen=guard_screen(P.guard),  # requirement lists pass the stage-2 guard first
    )
    where = "" if row_set == A.split else f"{row_set}/"
    for step, (name, result) in enumerate(results[row_set].items()):
        ablation.save_condition(result, lambda f, where=where: s.run.artifact(where + f))
        if result.measured:
            s.run.log_metrics(
                step,
                row_set=row_set,
                source=name,
                pass_rate=result.evaluation.pass_rate,
                bleu=result.evaluation.bleu,
            )
    summary[row_set] = ablation.pass_rate_summary(
        results[row_set], n_resamples=A.n_resamples, confidence=A.confidence, seed=P.run.seed
    )
    print(f"{row_set} ({len(members)} apps)")
    print(ablation.summary_table(summary[row_set], results[row_set]), end="\n\n")

# %% [markdown]
# ## Per-app paired comparison
# Each app is scored under every condition, so differences are taken per app: a paired
# bootstrap interval of the mean difference, and a sign or Wilcoxon signed-rank test whose
# p-values are Holm-corrected over the row set's comparisons (raw p beside).

# %%
comparisons, measured = {}, {}
alpha = 1 - A.confidence
for row_set, conditions in results.items():
    print(f"{row_set}:")
    print(ablation.per_app_table(conditions))
    pass_rates = {n: r.evaluation.pass_rates if r.measured else None for n, r in conditions.items()}
    measured[row_set] = [n for n, r in conditions.items() if r.measured]
    comparisons[row_set] = ablation.compare_all(
        ablation.default_pairs(measured[row_set], A.expected_ranking),
        pass_rates,
        test=A.paired_test,
        n_resamples=A.n_resamples,
        confidence=A.confidence,
        seed=P.run.seed,
    )
    print(ablation.comparisons_table(comparisons[row_set], alpha), end="\n\n")

# %% [markdown]
# ## The seed's expected ranking, decided by the corrected tests

# %%
ranking = {}
for row_set, rows_summary in summary.items():
    means = {n: row["mean"] for n, row in rows_summary.items() if row}
    ranking[row_set] = ablation.check_ranking(
        comparisons[row_set],
        A.expected_ranking,
        measured=measured[row_set],
        alpha=alpha,
        means=means,
    )
    print(f"{row_set}:", *ranking[row_set].lines(), sep="\n", end="\n\n")

# %%
fig, axes = plt.subplots(1, len(rows), figsize=(7 * len(rows), 3), squeeze=False)
for ax, (row_set, members) in zip(axes[0], rows.items(), strict=True):
    ablation.plot_pass_rates(summary[row_set], ax)
    ax.set_title(f"{len(members)} {row_set} apps; blue: requirements, orange: code context")
fig.tight_layout()
fig.savefig(s.run.artifact("ablation_pass_rates.png"), dpi=100)

# %%
by_row_set = {
    row_set: {
        "app_ids": [a.app_id for a in members],
        "pass_rate": summary[row_set],
        "status": {
            n: ("measured" if r.measured else r.unavailable) for n, r in results[row_set].items()
        },
        "comparisons": [c.to_dict() for c in comparisons[row_set]],
        "ranking": ranking[row_set].to_dict(),
    }
    for row_set, members in rows.items()
}
payload = {
    "split": A.split,
    **by_row_set[A.split],
    "by_row_set": by_row_set,
    "checkpoints": {n: r.checkpoint for n, r in results[A.split].items() if r.checkpoint},
    "confidence": A.confidence,
    "prompt_versions": {
        "requirements": P.orchestra.prompt_version,
        "context": ablation.CONTEXT_PROMPT_VERSION,
    },
}
s.run.write_summary(
    {
        **{f"ranking/{r}": check.verdict for r, check in ranking.items()},
        **{f"pass_rate/{n}": (row["mean"] if row else None) for n, row in summary[A.split].items()},
    }
)
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
sections = {
    "Setup": f"{', '.join(f'{len(m)} {r} apps' for r, m in rows.items())}; orchestra "
    f"{[m.name for m in P.orchestra.members]}; phase-2 run "
    f"{A.phase2_run_id or '(none)'}",
}
for row_set in rows:
    sections[f"Pass rate by condition ({row_set})"] = ablation.summary_table(
        summary[row_set], results[row_set]
    )
    sections[f"Per-app pass rates ({row_set})"] = ablation.per_app_table(results[row_set])
    sections[f"Paired comparisons ({row_set})"] = ablation.comparisons_table(
        comparisons[row_set], alpha
    )
    sections[f"Expected ranking ({row_set})"] = "\n".join(
        f"- {line}" for line in ranking[row_set].lines()
    )
sections["Files"] = (
    "results.json, artifacts/evaluation-*.json, "
    "artifacts/reconstruction-*.json, artifacts/holdout/, "
    "artifacts/ablation_pass_rates.png"
)
report = write_report(s.run.dir / "report.md", f"Ablation run {s.run.run_id}", sections)
s.run.finish()
print("report:", report)
