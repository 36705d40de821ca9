"""Source of the committed notebooks: `python tools/notebooks.py` rewrites them, outputs stripped.

The notebooks stay editable in JupyterLab; this file is the reviewable form of their cells.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = """
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
# CETD_PARAMS_FILE lets `make test` run the committed notebook (nbval) on params/tiny.yaml.
import os

params_file = os.environ.get("CETD_PARAMS_FILE", "../params/smoke.yaml")
run_id = ""
overrides = []
"""


def ruff_format(source: str) -> str:
    """The cell as `ruff format` leaves it in a notebook, so regenerating a notebook changes
    only the cells whose source here changed."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", "cell.py", "-"],
        input=source, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def make(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for index, (kind, source) in enumerate(cells):
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source.strip())
        else:
            cell = nbformat.v4.new_code_cell(ruff_format(source.strip() + "\n").strip())
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"{name}-{index}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def build(name: str, cells: list[tuple[str, str]]) -> Path:
    path = NOTEBOOKS / f"{name}.ipynb"
    path.write_text(nbformat.writes(make(name, cells)))
    return path


PHASE2 = [
    (
        "md",
        """
# CET-D Phase 2: code → requirements

A model reads an app's source and writes a numbered list of requirements; the orchestra rebuilds
the app from the requirements alone and the app's original tests run on the rebuild. Stage 1
trains on gold requirements, stage 2 on the guarded reconstruction reward.

Run headless: `python -m cetd_lib run notebooks/phase2.ipynb --params params/smoke.yaml`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
import json

import matplotlib.pyplot as plt

from cetd_lib import paired_stats, phase2
from cetd_lib import session as cetd_session
from cetd_lib.dashboard import metrics_figure
from cetd_lib.models import load_extractor
from cetd_lib.monitor import metric_group, metric_series
from cetd_lib.report import criteria_table, write_report
from cetd_lib.train.pipeline import run_phase2_training

s = cetd_session.start(params_file, run_id, overrides, kind="phase2")
P = s.params
print("run:", s.run.dir)
""",
    ),
    (
        "md",
        """
## Apps and splits
Split by a seeded hash of the app id (no app in two splits); the manifest with content hashes
goes into the run record.
""",
    ),
    (
        "code",
        """
apps = phase2.load_phase2_apps(
    P.data.apps_dir, include_humaneval=P.data.include_humaneval, max_apps=P.data.max_apps,
    data_config=P.data,
)
s.run.artifact("splits.json").write_text(apps.manifest.to_json())
s.run.add_data_hashes({f"app:{k}": v for k, v in apps.manifest.content_hashes.items()})
{name: [a.app_id for a in members] for name, members in apps.splits.items()}
""",
    ),
    (
        "md",
        """
## Training: stage 1 (gold) then stage 2 (reconstruction reward behind the leak guard)
Checkpoints land in `artifacts/stage1/` and `artifacts/stage2/`, where the ablation reads them.
""",
    ),
    (
        "code",
        """
backends = phase2.build_orchestra(P.orchestra)
stage1_dir, stage2_dir = run_phase2_training(P, apps, s.run, device=s.device, backends=backends)
train_summary = json.loads(s.run.artifact("train_summary.json").read_text())
print(json.dumps(train_summary["timings"], indent=1))
print("guard rejections in stage 2:", len(train_summary["guard_rejections"]))
# RLOO learns only from reward differences within an app's group of samples
print("stage-2 samples the guard passed:", train_summary["guard_pass_share"])
print("within-group reward std per step:", train_summary["within_group_reward_std"])
""",
    ),
    (
        "code",
        """
# The live view above showed these while training; here the final curves, a panel per
# (stage, group): stage1/losses, stage1/eval, stage2/losses, stage2/rewards.
series = metric_series(s.run.metrics())
curves = [k for k in series if k.startswith(("stage1/", "stage2/"))
          and metric_group(k) in ("losses", "rewards", "eval")]
fig = metrics_figure(series, curves, title=f"training curves, run {s.run.run_id}")
fig.savefig(s.run.artifact("training_curves.png"), dpi=100)
fig
""",
    ),
    (
        "md",
        """
## Requirements from each source, on two row sets
`gold` is the ceiling, `phase1` the retrieval baseline (gold of the nearest training app),
`phase2_stage1` and `phase2_stage2` the trained extractors. Two row sets are evaluated apart:
the `test` split and the `holdout` apps (`<apps_dir>/holdout/`: never split, never trained on;
`eval.holdout: false` skips them).
""",
    ),
    (
        "code",
        """
rows = apps.row_sets("test", holdout=P.eval.holdout)
print({row_set: [a.app_id for a in members] for row_set, members in rows.items()})
extractors = {"phase2_stage1": load_extractor(stage1_dir),
              "phase2_stage2": load_extractor(stage2_dir)}


def context(extractor=None):
    return phase2.SourceContext(
        train_apps=apps.retrieval_pool, extractor=extractor,
        context_level=P.eval.context_level, max_new_tokens=P.eval.max_new_tokens,
    )


def requirements_for(members):
    out = {name: phase2.requirements_from(name, members, context()) for name in ("gold", "phase1")}
    for row, extractor in extractors.items():
        out[row] = phase2.requirements_from("extractor", members, context(extractor))
    return out


requirements = {row_set: requirements_for(members) for row_set, members in rows.items()}
test_apps = rows["test"]
first = test_apps[0].app_id
print(f"stage 2 requirements for {first}:")
print("\\n".join(requirements["test"]["phase2_stage2"][first][:10]))
""",
    ),
    (
        "md",
        """
## Reconstruction by the orchestra, and BLEU against gold
BLEU is sacrebleu's (sentence and corpus, numbering stripped, 0-1). Holdout artifacts go to
`artifacts/holdout/`.
""",
    ),
    (
        "code",
        """
evaluations = {}  # row set -> source -> SourceEvaluation
for row_set, members in rows.items():
    where = "" if row_set == "test" else f"{row_set}/"
    evaluations[row_set] = {}
    for row, reqs in requirements[row_set].items():
        ev, rebuilt = phase2.evaluate_with_records(
            row, members, reqs, orchestra=P.orchestra, harness=P.harness, backends=backends
        )
        evaluations[row_set][row] = ev
        s.run.log_metrics(0, **{f"eval/{where}{row}/bleu": ev.bleu,
                                f"eval/{where}{row}/pass_rate": ev.pass_rate,
                                f"eval/{where}{row}/share_apps_above_75": ev.share_apps_above_75})
        s.run.artifact(f"{where}evaluation-{row}.json").write_text(phase2.to_json(ev.to_dict()))
        s.run.artifact(f"{where}reconstruction-{row}.json").write_text(
            phase2.to_json(rebuilt.to_dict()))
tables = {row_set: phase2.comparison_table(evs, seed=P.run.seed)
          for row_set, evs in evaluations.items()}
for row_set, table in tables.items():
    print(f"{row_set} ({len(rows[row_set])} apps)", table, sep="\\n", end="\\n\\n")
""",
    ),
    (
        "md",
        """
## Paired comparisons and the expected ranking
Per row set: the per-app pass rates of two sources are compared by a paired bootstrap interval
and a paired test; p-values are Holm-corrected over the row set's comparisons (raw ones beside).
"gold > stage 2 > stage 1 > phase 1" is decided per adjacent pair by the corrected test at
1 - `eval.confidence`: holds / reversed / not resolved, never by point means.
""",
    ),
    (
        "code",
        """
analysis = {
    row_set: phase2.paired_analysis(evs, test=P.eval.paired_test, n_resamples=P.eval.n_resamples,
                                    confidence=P.eval.confidence, seed=P.run.seed)
    for row_set, evs in evaluations.items()
}
alpha = 1 - P.eval.confidence
for row_set, (comparisons, ranking) in analysis.items():
    print(f"{row_set}:")
    print(paired_stats.comparisons_table(comparisons, alpha))
    print("\\n".join(ranking.lines()), end="\\n\\n")
""",
    ),
    (
        "md",
        """
## Seed targets
The seed's success criteria for the Phase-2 model (stage 2) on the test split, as measured: met
or missed.
""",
    ),
    (
        "code",
        """
model_eval = evaluations["test"]["phase2_stage2"]
criteria = phase2.success_criteria(model_eval, P.eval)
print(criteria_table(criteria))
""",
    ),
    (
        "code",
        """
fig, axes = plt.subplots(1, len(evaluations), figsize=(6 * len(evaluations), 3), squeeze=False)
for ax, (row_set, evs) in zip(axes[0], evaluations.items(), strict=True):
    for row, ev in evs.items():
        ax.hist([v for v in ev.pass_rates.values() if v == v], bins=10, range=(0, 1),
                alpha=0.5, label=row)
    ax.set_title(f"{row_set} ({len(rows[row_set])} apps)")
    ax.set_xlabel("pass rate of the original tests on the rebuild")
    ax.set_ylabel("apps")
    ax.legend()
fig.tight_layout()
fig.savefig(s.run.artifact("pass_rate_hist.png"), dpi=100)
""",
    ),
    (
        "code",
        """
by_row_set = {
    row_set: {
        "app_ids": [a.app_id for a in rows[row_set]],
        "by_source": {row: ev.to_dict() for row, ev in evs.items()},
        "comparisons": [c.to_dict() for c in analysis[row_set][0]],
        "ranking": analysis[row_set][1].to_dict(),
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
    "criteria": [{"name": c.name, "target": c.target, "value": c.value, "verdict": c.verdict}
                 for c in criteria],
    "training": train_summary,
}
s.run.write_summary({**s.run.summary(),  # keeps the "phases" run_phase2_training recorded
                     **{k: v for k, v in results.items()
                        if k not in ("by_source", "by_row_set", "training")}})
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
    sections[f"Paired comparisons ({row_set})"] = paired_stats.comparisons_table(
        comparisons, alpha)
    sections[f"Expected ranking ({row_set})"] = "\\n".join(f"- {line}" for line in ranking.lines())
sections["Seed targets (stage 2, test)"] = criteria_table(criteria)
sections["Training"] = ("timings (s): " + json.dumps(train_summary["timings"])
                        + f"; stage-2 guard rejections: {len(train_summary['guard_rejections'])}")
sections["Files"] = ("results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
                     "artifacts/holdout/, artifacts/stage1/, artifacts/stage2/, "
                     "artifacts/training_curves.png, artifacts/pass_rate_hist.png")
report = write_report(s.run.dir / "report.md", f"Phase 2 run {s.run.run_id}", sections)
s.run.finish()
print("report:", report)
""",
    ),
    (
        "md",
        """
## Training report
Every phase that ran (stage 1, stage 2) with epochs, steps, wall time and throughput, the seed
targets met or missed, and links to the dashboard and the checkpoints:
`outputs/reports/training-<UTC time>.md` (the dashboard is rebuilt first).
""",
    ),
    (
        "code",
        """
from cetd_lib.report import write_training_report

training_report = write_training_report(P.run.outputs_dir, s.run)
print("training report:", training_report)
""",
    ),
]

HUMAN_REVIEW = [
    (
        "md",
        """
# Blind side-by-side review of requirements (or explanations)

Two requirement sources for the same app, side by side, sides drawn at random per item: you
never learn which list is which. Score each list 1–5 on accuracy, completeness, clarity and
rebuildability, pick the better one (or tie) and say why. Every answer is saved at once (SQLite);
rerun the notebook to resume where you stopped. Some items come back later on purpose
(self-consistency).

With `review.kind=explanation` the sides are two explanations of one lint/security finding
from a multi-task run (`review.source_run`): the model's and the reference built from the rule's
docs, scored 1–5 on correctness, clarity and helpfulness; the summary then gives the
explanation rating against the seed target (> 3.5/5).

Review options live in the `review:` params section, set with overrides, e.g.
`overrides = ["review.rater=ab", "review.n_items=10"]` or
`overrides = ["review.rater=ab", "review.kind=explanation", "review.source_run=<multitask run>"]`
(see docs/review.md). Headless
(`python -m cetd_lib run notebooks/human_review.ipynb --params params/tiny.yaml`) nothing waits
for input: the form is built but only the summary of the ratings stored so far is reported.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
from cetd_lib import review
from cetd_lib import session as cetd_session

s = cetd_session.start(params_file, run_id, overrides, kind="human_review")
P = s.params
print("run:", s.run.dir)
""",
    ),
    (
        "md",
        """
## Items
Requirements: from the newest phase2 run's `artifacts/evaluation-<source>.json` (or
`review.source_run`); without one the review falls back to gold vs the phase-1 retrieval
baseline and says so below. Explanations: the samples in the multitask run's `results.json`.
""",
    ),
    (
        "code",
        """
material = review.load_material(P)
print(material.note)
store = review.ReviewStore(review.store_path(P))
rs = review.ReviewSession.start(store, material, P.review)
print(rs.describe(), "· kind:", rs.kind.name, "· rubric:", ", ".join(rs.kind.criteria))
print("store:", store.path)
""",
    ),
    (
        "md",
        """
## Rate
Tab through the score buttons (Space picks), or type the whole answer in the quick-entry box:
`4534 | 3425 | L | why` (left scores, right scores, L/R/T, rationale) and press Enter; one
digit per criterion, so an explanation answer has three (`453 | 342 | L | why`).
The code pane is collapsed: click **Code** to read the app (or the finding and its code).
""",
    ),
    (
        "code",
        """
review.ReviewWidget(rs)
""",
    ),
    (
        "md",
        """
Where widgets do not render (a console, a plain viewer), use the text form instead:
`print(review.text_form(item))` then `rs.submit_text(item.item_id, "4534 | 3425 | L | why")`
(for explanations `"453 | 342 | L | why"`).
""",
    ),
    (
        "code",
        """
item = rs.items[rs.resume_index()]
print(review.text_form(item, total=len(rs.items)))
""",
    ),
    (
        "md",
        """
## Summary of stored ratings
Win rate per source (ties excluded, Wilson 95% CI), mean rubric scores, a left-side bias check
(two-sided binomial test), self-consistency on repeated items, and inter-rater agreement
(quadratic-weighted Cohen's kappa, Krippendorff's ordinal alpha) once two raters share items.
For explanations also the seed target: the mean of the model's scores > 3.5 (met / missed /
not rated).
""",
    ),
    (
        "code",
        """
ratings = store.ratings(rs.session_id)
summary = review.summarize(ratings, material.sources, kind=rs.kind)
print(summary.to_markdown())
verdict = review.verdict(rs.kind, ratings, P, material.origin)  # None for requirements
if verdict is not None:
    print(review.verdict_text(verdict))
paths = review.export(ratings, summary, s.run.dir / "artifacts")
s.run.write_summary({"session_id": rs.session_id, "origin": material.origin,
                     "note": material.note, **summary.to_dict(),
                     **({f"{rs.kind.name}_rating": verdict} if verdict else {})})
s.run.finish()
print({k: str(v) for k, v in paths.items()})
""",
    ),
]

PHASE1 = [
    (
        "md",
        """
# CET-D Phase 1: the retrieval baseline

The seed's phase-1 row: for each val/test app, the gold requirements of the most similar
*training* app (BM25 over code tokens, `cetd_lib.retrieval`). Judged like every source: BLEU
against the app's own gold, and the pass rate of its original tests on what the orchestra
rebuilds from those borrowed requirements.

Run headless: `python -m cetd_lib run notebooks/phase1.ipynb --params params/smoke.yaml`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
import matplotlib.pyplot as plt

from cetd_lib import phase2
from cetd_lib import session as cetd_session
from cetd_lib.metrics import bootstrap_ci, sentence_bleu
from cetd_lib.report import write_report
from cetd_lib.requirements import format_requirements
from cetd_lib.retrieval import Phase1Retriever

s = cetd_session.start(params_file, run_id, overrides, kind="phase1")
P = s.params
print("run:", s.run.dir)
""",
    ),
    (
        "code",
        """
apps = phase2.load_phase2_apps(
    P.data.apps_dir, include_humaneval=P.data.include_humaneval, max_apps=P.data.max_apps,
    data_config=P.data,
)
s.run.artifact("splits.json").write_text(apps.manifest.to_json())
s.run.add_data_hashes({f"app:{k}": v for k, v in apps.manifest.content_hashes.items()})
splits = ("val", "test")
{split: [a.app_id for a in apps[split]] for split in splits}
""",
    ),
    (
        "md",
        """
## Retrieval
The training app whose requirements each evaluated app borrows (never its own gold).
""",
    ),
    (
        "code",
        """
retriever = Phase1Retriever(apps.retrieval_pool)
neighbours = {app.app_id: retriever.nearest(app)[0] for split in splits for app in apps[split]}
ctx = phase2.SourceContext(train_apps=apps.retrieval_pool)
requirements = {split: phase2.requirements_from("phase1", apps[split], ctx) for split in splits}
for app_id, n in neighbours.items():
    print(f"{app_id:28s} <- {n.app.app_id:28s} BM25 {n.score:.1f}")
""",
    ),
    (
        "md",
        """
## Reconstruction by the orchestra, and BLEU against gold
""",
    ),
    (
        "code",
        """
backends = phase2.build_orchestra(P.orchestra)
evaluations, reconstructions = {}, {}
for step, split in enumerate(splits):
    ev, rebuilt = phase2.evaluate_with_records(
        f"phase1_{split}", apps[split], requirements[split], orchestra=P.orchestra,
        harness=P.harness, backends=backends,
    )
    evaluations[split], reconstructions[split] = ev, rebuilt
    s.run.log_metrics(step, split=split, bleu=ev.bleu, corpus_bleu=ev.corpus_bleu,
                      pass_rate=ev.pass_rate, share_apps_above_75=ev.share_apps_above_75)
    s.run.artifact(f"evaluation-phase1_{split}.json").write_text(phase2.to_json(ev.to_dict()))
    s.run.artifact(f"reconstruction-phase1_{split}.json").write_text(
        phase2.to_json(rebuilt.to_dict()))
table = phase2.comparison_table({f"phase1 ({k})": v for k, v in evaluations.items()},
                                seed=P.run.seed)
print(table)
""",
    ),
    (
        "code",
        """
per_app = []
for split in splits:
    for app in apps[split]:
        bleu = sentence_bleu(format_requirements(requirements[split][app.app_id]),
                             format_requirements(app.requirements))
        per_app.append({"split": split, "app_id": app.app_id,
                        "neighbour": neighbours[app.app_id].app.app_id, "bleu": bleu,
                        "pass_rate": evaluations[split].pass_rates[app.app_id]})
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
""",
    ),
    (
        "code",
        """
results = {"source": "phase1", "n_apps": {k: len(apps[k]) for k in splits}, "by_split": {},
           "per_app": per_app}
for split, ev in evaluations.items():
    low, high = bootstrap_ci([v for v in ev.pass_rates.values() if v == v], seed=P.run.seed)
    results["by_split"][split] = {
        "bleu": ev.bleu, "corpus_bleu": ev.corpus_bleu, "pass_rate": ev.pass_rate,
        "pass_rate_ci": [low, high], "share_apps_above_75": ev.share_apps_above_75,
        "failure_counts": ev.failure_counts,
        "prompt_version": reconstructions[split].prompt_version,
    }
s.run.write_summary({f"{k}/{m}": v[m] for k, v in results["by_split"].items()
                     for m in ("bleu", "pass_rate")})
(s.run.dir / "results.json").write_text(phase2.to_json(results))
report = write_report(s.run.dir / "report.md", f"Phase 1 run {s.run.run_id}", {
    "Setup": f"{results['n_apps']} apps; retrieval pool {len(apps.retrieval_pool)} training "
             f"apps; orchestra {[m.name for m in P.orchestra.members]}",
    "Phase 1 (retrieval) by split": table,
    "Files": "results.json, artifacts/evaluation-*.json, artifacts/reconstruction-*.json, "
             "artifacts/phase1_per_app.png",
})
s.run.finish()
print("report:", report)
""",
    ),
]

ABLATION = [
    (
        "md",
        """
# Ablation: what the reconstructor is given

The same apps, the same orchestra, different inputs: requirement sources (`gold`,
`phase2_stage2`, `phase2_stage1`, `phase1`) and, as references, the app's own code at
degradation levels 1-3 (`level1` full source, `level2` no comments/docstrings, `level3`
signatures only), with a prompt that says it hands over (degraded) code.

`phase2_stage*` come from the checkpoints of the phase-2 run named by `ablation.phase2_run_id`;
without one, those rows are reported as not available. The ablation refuses to evaluate those
checkpoints on an app their run trained on (or chose its checkpoint on). Two row sets are
evaluated apart: `ablation.split` and the holdout apps (never trained on). The seed's expected
ranking (gold > stage2 > stage1 > phase1) is decided per adjacent pair by Holm-corrected paired
tests: holds / reversed / not resolved.

Run headless: `python -m cetd_lib run notebooks/ablation.ipynb --params params/smoke.yaml
-p ablation.phase2_run_id=<run>`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
import matplotlib.pyplot as plt

from cetd_lib import ablation, phase2
from cetd_lib import session as cetd_session
from cetd_lib.harness.prompts import PROMPT_VERSION
from cetd_lib.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="ablation")
P, A = s.params, s.params.ablation
print("run:", s.run.dir)
""",
    ),
    (
        "code",
        """
apps = phase2.load_phase2_apps(
    P.data.apps_dir, include_humaneval=P.data.include_humaneval, max_apps=P.data.max_apps,
    data_config=P.data,
)
s.run.artifact("splits.json").write_text(apps.manifest.to_json())
s.run.add_data_hashes({f"app:{k}": v for k, v in apps.manifest.content_hashes.items()})
rows = apps.row_sets(A.split, holdout=A.holdout)
eval_apps = rows[A.split]
{row_set: [a.app_id for a in members] for row_set, members in rows.items()}
""",
    ),
    (
        "md",
        """
## Every condition through the orchestra, on each row set
""",
    ),
    (
        "code",
        """
backends = phase2.build_orchestra(P.orchestra)
results, summary = {}, {}
for row_set, members in rows.items():
    results[row_set] = ablation.run_conditions(
        A.sources, members, train_apps=apps.retrieval_pool, orchestra=P.orchestra,
        harness=P.harness, backends=backends, outputs_dir=P.run.outputs_dir,
        phase2_run_id=A.phase2_run_id, extractor_context_level=P.eval.context_level,
        max_new_tokens=P.eval.max_new_tokens,
    )
    where = "" if row_set == A.split else f"{row_set}/"
    for step, (name, result) in enumerate(results[row_set].items()):
        ablation.save_condition(result, lambda f, where=where: s.run.artifact(where + f))
        if result.measured:
            s.run.log_metrics(step, row_set=row_set, source=name,
                              pass_rate=result.evaluation.pass_rate, bleu=result.evaluation.bleu)
    summary[row_set] = ablation.pass_rate_summary(
        results[row_set], n_resamples=A.n_resamples, confidence=A.confidence, seed=P.run.seed)
    print(f"{row_set} ({len(members)} apps)")
    print(ablation.summary_table(summary[row_set], results[row_set]), end="\\n\\n")
""",
    ),
    (
        "md",
        """
## Per-app paired comparison
Each app is scored under every condition, so differences are taken per app: a paired
bootstrap interval of the mean difference, and a sign or Wilcoxon signed-rank test whose
p-values are Holm-corrected over the row set's comparisons (raw p beside).
""",
    ),
    (
        "code",
        """
comparisons, measured = {}, {}
alpha = 1 - A.confidence
for row_set, conditions in results.items():
    print(f"{row_set}:")
    print(ablation.per_app_table(conditions))
    pass_rates = {n: r.evaluation.pass_rates if r.measured else None
                  for n, r in conditions.items()}
    measured[row_set] = [n for n, r in conditions.items() if r.measured]
    comparisons[row_set] = ablation.compare_all(
        ablation.default_pairs(measured[row_set], A.expected_ranking), pass_rates,
        test=A.paired_test, n_resamples=A.n_resamples, confidence=A.confidence, seed=P.run.seed,
    )
    print(ablation.comparisons_table(comparisons[row_set], alpha), end="\\n\\n")
""",
    ),
    (
        "md",
        """
## The seed's expected ranking, decided by the corrected tests
""",
    ),
    (
        "code",
        """
ranking = {}
for row_set, rows_summary in summary.items():
    means = {n: row["mean"] for n, row in rows_summary.items() if row}
    ranking[row_set] = ablation.check_ranking(
        comparisons[row_set], A.expected_ranking, measured=measured[row_set], alpha=alpha,
        means=means)
    print(f"{row_set}:", *ranking[row_set].lines(), sep="\\n", end="\\n\\n")
""",
    ),
    (
        "code",
        """
fig, axes = plt.subplots(1, len(rows), figsize=(7 * len(rows), 3), squeeze=False)
for ax, (row_set, members) in zip(axes[0], rows.items(), strict=True):
    ablation.plot_pass_rates(summary[row_set], ax)
    ax.set_title(f"{len(members)} {row_set} apps; blue: requirements, orange: code context")
fig.tight_layout()
fig.savefig(s.run.artifact("ablation_pass_rates.png"), dpi=100)
""",
    ),
    (
        "code",
        """
by_row_set = {
    row_set: {
        "app_ids": [a.app_id for a in members],
        "pass_rate": summary[row_set],
        "status": {n: ("measured" if r.measured else r.unavailable)
                   for n, r in results[row_set].items()},
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
    "prompt_versions": {"requirements": PROMPT_VERSION,
                        "context": ablation.CONTEXT_PROMPT_VERSION},
}
s.run.write_summary({**{f"ranking/{r}": check.verdict for r, check in ranking.items()},
                     **{f"pass_rate/{n}": (row["mean"] if row else None)
                        for n, row in summary[A.split].items()}})
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
sections = {
    "Setup": f"{', '.join(f'{len(m)} {r} apps' for r, m in rows.items())}; orchestra "
             f"{[m.name for m in P.orchestra.members]}; phase-2 run "
             f"{A.phase2_run_id or '(none)'}",
}
for row_set in rows:
    sections[f"Pass rate by condition ({row_set})"] = ablation.summary_table(
        summary[row_set], results[row_set])
    sections[f"Per-app pass rates ({row_set})"] = ablation.per_app_table(results[row_set])
    sections[f"Paired comparisons ({row_set})"] = ablation.comparisons_table(
        comparisons[row_set], alpha)
    sections[f"Expected ranking ({row_set})"] = "\\n".join(
        f"- {line}" for line in ranking[row_set].lines())
sections["Files"] = ("results.json, artifacts/evaluation-*.json, "
                     "artifacts/reconstruction-*.json, artifacts/holdout/, "
                     "artifacts/ablation_pass_rates.png")
report = write_report(s.run.dir / "report.md", f"Ablation run {s.run.run_id}", sections)
s.run.finish()
print("report:", report)
""",
    ),
]

ERROR_ANALYSIS = [
    (
        "md",
        """
# Error analysis of reconstructions

Why rebuilt apps fail: failure classes (docs/harness.md), the worst apps, failures by
degradation level and by orchestra member, and sample requirement → rebuild → test-output
triples. Reads the run named by `ablation.analysis_run_id` (a phase-2 or ablation run); with
none, it evaluates gold, phase1 and level-3 code (`SELF_EVALUATION_SOURCES`) on a few apps.

Run headless: `python -m cetd_lib run notebooks/error_analysis.ipynb --params params/smoke.yaml
-p ablation.analysis_run_id=<run>`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
from pathlib import Path

import matplotlib.pyplot as plt

from cetd_lib import ablation, phase2
from cetd_lib import error_analysis as ea
from cetd_lib import session as cetd_session
from cetd_lib.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="error_analysis")
P, A = s.params, s.params.ablation
print("run:", s.run.dir)
""",
    ),
    (
        "code",
        """
if A.analysis_run_id:
    analysed = Path(P.run.outputs_dir) / "runs" / A.analysis_run_id
    runs = ea.load_run(analysed)
else:
    analysed = None
    apps = phase2.load_phase2_apps(
        P.data.apps_dir, include_humaneval=P.data.include_humaneval,
        max_apps=P.data.max_apps, data_config=P.data,
    )
    results = ablation.run_conditions(
        ea.SELF_EVALUATION_SOURCES, apps[A.split],
        train_apps=apps.retrieval_pool, orchestra=P.orchestra, harness=P.harness,
        backends=phase2.build_orchestra(P.orchestra), outputs_dir=P.run.outputs_dir,
    )
    for result in results.values():
        ablation.save_condition(result, s.run.artifact)
    runs = ea.runs_from_conditions(results)
print("analysed:", analysed or "an evaluation run here",
      {name: f"{run.pass_rate:.3f}" for name, run in runs.items()})
""",
    ),
    (
        "md",
        """
## Failure classes
Failing gold tests per class, over every sample of every member.
""",
    ),
    (
        "code",
        """
failures = ea.failure_table(runs)
classes = list(next(iter(failures.values()), {}))
failure_md = ea.markdown_table(["source", *classes],
                               [[n, *counts.values()] for n, counts in failures.items()])
print(failure_md)
fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(failures)))
ea.plot_failure_classes(failures, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("failure_classes.png"), dpi=100)
suspects = ea.reward_hack_suspects(runs)
print("REWARD_HACK_SUSPECT tests per source:", suspects)
""",
    ),
    (
        "md",
        """
## Worst apps
""",
    ),
    (
        "code",
        """
worst = ea.worst_apps(runs, A.n_worst_apps)
worst_md = ea.markdown_table(["app", "mean", *runs],
                             [[w["app_id"], w["mean_pass_rate"], *w["by_source"].values()]
                              for w in worst])
print(worst_md)
""",
    ),
    (
        "md",
        """
## By degradation level and by orchestra member
Level 1-3: the reconstructor read the app's code (full, stripped, signatures); level 4: gold
requirements alone. Sources that are no level (phase1, extractors) appear only by member.
""",
    ),
    (
        "code",
        """
levels = ea.by_level(runs)
level_md = ea.markdown_table(
    ["level", "source", "pass rate", "top failure class"],
    [[lv, row["source"], row["pass_rate"],
      max(row["failure_counts"], key=row["failure_counts"].get, default="—")]
     for lv, row in levels.items()],
) if levels else "no degradation-level sources in this run"
print(level_md)
members = ea.by_member(runs)
member_md = ea.markdown_table(
    ["source", "member", "pass rate", "failure classes"],
    [[n, m, row["pass_rate"], row["failure_counts"] if row["failure_counts"] is not None
      else "(no records in this run)"] for n, rows in members.items() for m, row in rows.items()],
)
print(member_md)
""",
    ),
    (
        "md",
        """
## Samples: requirements → rebuild → test output
""",
    ),
    (
        "code",
        """
examples = ea.sample_examples(runs, A.n_examples)
if not examples:
    print("no reconstruction records in this run (phase2.ipynb writes evaluation-*.json only)")
for example in examples:
    print(example.render(max_chars=1200))
""",
    ),
    (
        "code",
        """
payload = {
    "analysed_run": str(analysed) if analysed else None,
    "pass_rate": {n: run.pass_rate for n, run in runs.items()},
    "failure_counts": failures,
    "failure_shares": {n: ea.shares(c) for n, c in failures.items()},
    "reward_hack_suspects": suspects,
    "worst_apps": worst,
    "by_level": levels,
    "by_member": members,
    "examples": [{"source": e.source, "app_id": e.app_id, "member": e.member,
                  "sample": e.sample, "failure": e.failure, "pass_rate": e.pass_rate}
                 for e in examples],
}
s.run.write_summary({"analysed_run": payload["analysed_run"], "pass_rate": payload["pass_rate"]})
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
report = write_report(s.run.dir / "report.md", f"Error analysis {s.run.run_id}", {
    "Analysed": payload["analysed_run"] or "an evaluation run in this notebook",
    "Failure classes": failure_md,
    "Worst apps": worst_md,
    "By degradation level": level_md,
    "By orchestra member": member_md,
    "Samples": "\\n".join(e.render(max_chars=800) for e in examples) or "(no records)",
})
s.run.finish()
print("report:", report)
""",
    ),
]

DASHBOARD = [
    (
        "md",
        """
# Training dashboard

One self-contained HTML file over every run record under `run.outputs_dir`: runs table, loss /
reward / metric curves, pass-rate distributions, ablation charts and an error analysis. It opens
from disk with no network (`outputs/dashboard/index.html`); this notebook also shows it inline.

Run headless: `python -m cetd_lib run notebooks/dashboard.ipynb --params params/smoke.yaml`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
from IPython.display import HTML

from cetd_lib import dashboard
from cetd_lib import session as cetd_session

s = cetd_session.start(params_file, run_id, overrides, kind="dashboard")
P = s.params
""",
    ),
    (
        "code",
        """
path = dashboard.build_dashboard(P.run.outputs_dir, config=P.dashboard)
runs = dashboard.load_runs(P.run.outputs_dir, exclude_kinds=P.dashboard.exclude_kinds)
print(f"{len(runs)} run(s) -> {path}")
HTML(dashboard.notebook_html(path))
""",
    ),
    (
        "code",
        """
s.run.write_summary({"n_runs": len(runs), "dashboard": str(path)})
s.run.finish()
""",
    ),
]

MULTITASK = [
    (
        "md",
        """
# Multi-task model: objectives, curriculum, evaluation

One shared backbone (the base causal LM with LoRA) and three classification heads, trained by
the seed's curriculum: code-only (span-masked LM + FIM) until val loss < 3.5 → simple ontology
(utilization > 80%) → multi-hop ontology (pass@1 +5% over code-only) → all tasks with
uncertainty-weighted losses until the val loss plateaus. Gates that are not met fall back to the
phase's max epochs and are logged as "gate missed". The best joint checkpoint is exported to
`<outputs>/models/final/`; held-out metrics are in `results.json` (docs/multitask_train.md).

Run headless: `python -m cetd_lib run notebooks/multitask.ipynb --params params/smoke.yaml`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
import json

import matplotlib.pyplot as plt

from cetd_lib import session as cetd_session
from cetd_lib.monitor import LiveMetrics
from cetd_lib.multitask.train import (
    run_multitask,
    summary_table,
    targets_markdown,
    untargeted_markdown,
)
from cetd_lib.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="multitask")
P = s.params
print(P.multitask_train.base_model, "phases (max epochs):", P.multitask_train.phase_epochs)
""",
    ),
    (
        "code",
        """
with LiveMetrics.from_config(s.run, P.dashboard) as live:
    results = run_multitask(P, s.run, live=live)
print(json.dumps(summary_table(results), indent=2))
""",
    ),
    (
        "code",
        """
fig, ax = plt.subplots(figsize=(7, 3))
epochs = results["epochs"]
ax.plot([e["epoch"] for e in epochs], [e["val/loss"] for e in epochs], marker="o")
for e in epochs:
    ax.annotate(e["phase"].split("_")[0], (e["epoch"], e["val/loss"]), fontsize=7)
ax.set_xlabel("epoch")
ax.set_ylabel("val loss (phase's tasks)")
fig.tight_layout()
fig.savefig(s.run.artifact("multitask_val_loss.png"))
""",
    ),
    (
        "code",
        """
gates = "\\n".join(
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
""",
    ),
    (
        "code",
        """
from cetd_lib.report import write_training_report

training_report = write_training_report(P.run.outputs_dir, s.run)
print("training report:", training_report)
""",
    ),
]

CALIBRATION = [
    (
        "md",
        """
# Orchestra calibration: is there a signal to reward?

Before a reconstruction pass rate becomes a reward or a metric: does it move with the quality of
the requirements? Each orchestra member rebuilds the same apps from a ladder of requirement
sources whose quality is known by construction (gold, gold with 25/50/75% of the items dropped,
the gold of another app, module names only) and the harness bounds (`oracle`: the original
source, `null`: nothing). Per member and app family: pass rate per rung with a paired bootstrap
CI, pass@k, a dose-response plot, the signal gold − shuffled with the number of apps a 5-point
difference needs, and a verdict (docs/calibration.md).

Run headless: `python -m cetd_lib run notebooks/calibration.ipynb --params params/smoke.yaml`.
""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """
import matplotlib.pyplot as plt

from cetd_lib import calibration, phase2
from cetd_lib import session as cetd_session
from cetd_lib.harness.prompts import PROMPT_VERSION
from cetd_lib.report import write_report

s = cetd_session.start(params_file, run_id, overrides, kind="calibration")
P, C = s.params, s.params.calibration
print("run:", s.run.dir)
print("ladder:", ", ".join(C.ladder))
""",
    ),
    (
        "md",
        """
## App families
A seeded sample of `calibration.n_apps` apps per family (all of them when null). No model is
trained here, so every split of a family may be used.
""",
    ),
    (
        "code",
        """
families = {f: calibration.load_family(f, P.data.apps_dir, C.n_apps, C.seed) for f in C.families}
s.run.add_data_hashes({f"app:{a.app_id}": a.content_hash()
                       for apps in families.values() for a in apps})
{f: [a.app_id for a in apps] for f, apps in families.items()}
""",
    ),
    (
        "md",
        """
## Every rung through the orchestra
`n_samples` rebuilds per app, rung and member at `temperature`; the bounds run once per family.
""",
    ),
    (
        "code",
        """
backends = phase2.build_orchestra(P.orchestra)
runs = []
for step, (family, apps) in enumerate(families.items()):
    run = calibration.calibrate_family(family, apps, config=C, orchestra=P.orchestra,
                                       harness=P.harness, backends=backends)
    runs.append(run)
    for member, c in run.calibrations.items():
        s.run.log_metrics(step, **{f"calibration/{member}/{family}/{r}/pass_rate": v.mean
                                   for r, v in c.rungs.items()})
        print(f"### {member} on {family} ({len(c.app_ids)} apps)")
        print(calibration.ladder_table(c))
""",
    ),
    (
        "md",
        """
## Dose-response
Mean pass rate against the share of the app's own gold items in the list; a member that reads
the requirements rises from left to right.
""",
    ),
    (
        "code",
        """
fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.5), squeeze=False)
for run, ax in zip(runs, axes[0], strict=True):
    calibration.plot_dose_response(run, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("calibration_dose_response.png"), dpi=100)
""",
    ),
    (
        "md",
        """
## Signal and verdict
gold − shuffled per app (paired bootstrap CI) and the apps a paired t-test needs to detect a
`calibration.effect_size` difference at `calibration.power`, from the measured SD of the
per-app differences. "carries signal": the CI lies above 0, a Wilcoxon signed-rank test of the
same differences has p < 1 − `confidence`, and no step of the ladder inverts (a lower dose
significantly above the next higher one); otherwise "flat".
""",
    ),
    (
        "code",
        """
rows = sum(len(run.calibrations) for run in runs)
fig, ax = plt.subplots(figsize=(7, 1 + 0.5 * rows))
calibration.plot_signal(runs, ax)
fig.tight_layout()
fig.savefig(s.run.artifact("calibration_signal.png"), dpi=100)
verdicts = calibration.verdict_table(runs)
print(verdicts)
for run in runs:
    for member, c in run.calibrations.items():
        print(f"{member} / {run.family}: {c.verdict} ({c.reason}); {c.signal.apps_needed_note}")
""",
    ),
    (
        "code",
        """
payload = {
    **calibration.results_payload(runs, C),
    "orchestra": {"members": [m.name for m in P.orchestra.members],
                  "max_new_tokens": P.orchestra.max_new_tokens, "seed": P.orchestra.seed},
    "prompt_version": PROMPT_VERSION,
}
(s.run.dir / "results.json").write_text(phase2.to_json(payload))
seconds = {r.family: round(sum(m.seconds for m in r.measurements.values())) for r in runs}
s.run.write_summary({f"verdict/{m}/{f}": v for m, by in payload["verdicts"].items()
                     for f, v in by.items()})
report = write_report(s.run.dir / "report.md", f"Calibration run {s.run.run_id}", {
    "Setup": f"families {list(C.families)}; {C.n_samples} samples at temperature "
             f"{C.temperature}; orchestra {[m.name for m in P.orchestra.members]}; "
             f"seconds per family {seconds}",
    "Verdicts": verdicts,
    **{f"Ladder: {m} on {run.family}": calibration.ladder_table(c)
       for run in runs for m, c in run.calibrations.items()},
    "Files": "results.json, artifacts/calibration_dose_response.png, "
             "artifacts/calibration_signal.png",
})
s.run.finish()
print("report:", report)
""",
    ),
]

ALL = {
    "phase2": PHASE2,
    "human_review": HUMAN_REVIEW,
    "phase1": PHASE1,
    "ablation": ABLATION,
    "calibration": CALIBRATION,
    "error_analysis": ERROR_ANALYSIS,
    "dashboard": DASHBOARD,
    "multitask": MULTITASK,
}

if __name__ == "__main__":
    for name, cells in ALL.items():
        print(build(name, cells))
