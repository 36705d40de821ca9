"""Source of the committed notebooks: `python tools/notebooks.py` rewrites them, outputs stripped.

The notebooks stay editable in JupyterLab; this file is the reviewable form of their cells.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = """
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "data.max_apps=2"].
params_file = "../params/smoke.yaml"
run_id = ""
overrides = []
"""


def build(name: str, cells: list[tuple[str, str]]) -> Path:
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
            cell = nbformat.v4.new_code_cell(source.strip())
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"{name}-{index}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    path = NOTEBOOKS / f"{name}.ipynb"
    path.write_text(nbformat.writes(nb))
    return path


PHASE2 = [
    ("md", """
# CET-D Phase 2: code → requirements

A model reads an app's source and writes a numbered list of requirements; the orchestra rebuilds
the app from the requirements alone and the app's original tests run on the rebuild.

Run headless: `python -m cetd_lib run notebooks/phase2.ipynb --params params/smoke.yaml`.
"""),
    ("params", PARAMETERS),
    ("code", """
import matplotlib.pyplot as plt

from cetd_lib import phase2
from cetd_lib import session as cetd_session
from cetd_lib.models import make_extractor
from cetd_lib.report import criteria_table, write_report

s = cetd_session.start(params_file, run_id, overrides, kind="phase2")
P = s.params
print("run:", s.run.dir)
"""),
    ("md", """
## Apps and splits
Split by a seeded hash of the app id (no app in two splits); the manifest with content hashes
goes into the run record.
"""),
    ("code", """
apps = phase2.load_phase2_apps(
    P.data.apps_dir, include_humaneval=P.data.include_humaneval, max_apps=P.data.max_apps,
    data_config=P.data,
)
s.run.artifact("splits.json").write_text(apps.manifest.to_json())
s.run.add_data_hashes({f"app:{k}": v for k, v in apps.manifest.content_hashes.items()})
{name: [a.app_id for a in members] for name, members in apps.splits.items()}
"""),
    ("md", """
## Training: not built yet
Stage 1 (supervised on gold) and stage 2 (reconstruction-guided RL) come with the training
issue. Until then the *model* row below is the **untrained** extractor: the base model with a
fresh (zero) LoRA adapter, prompted zero-shot. No loss or reward curves exist for this run.
"""),
    ("code", """
extractor = make_extractor(config=P.extractor)
trainable, total = extractor.parameter_counts()
print(f"{P.extractor.variant} extractor on {P.extractor.base_model}: "
      f"{trainable:,} trainable of {total:,} parameters")
"""),
    ("md", """
## Requirements from each source
`gold` is the ceiling, `phase1` the retrieval baseline (gold of the nearest training app),
`model` the extractor above.
"""),
    ("code", """
test_apps = apps["test"]
ctx = phase2.SourceContext(
    train_apps=apps.retrieval_pool, extractor=extractor,
    context_level=P.eval.context_level, max_new_tokens=P.eval.max_new_tokens,
)
sources = {"gold": "gold", "phase1": "phase1", "model": "extractor"}
requirements = {row: phase2.requirements_from(src, test_apps, ctx) for row, src in sources.items()}
first = test_apps[0].app_id
print(f"model's requirements for {first}:\\n" + "\\n".join(requirements["model"][first][:10]))
"""),
    ("md", """
## Reconstruction by the orchestra, and BLEU against gold
"""),
    ("code", """
backends = phase2.build_orchestra(P.orchestra)
evaluations = {
    row: phase2.evaluate_source(row, test_apps, reqs, orchestra=P.orchestra,
                                harness=P.harness, backends=backends)
    for row, reqs in requirements.items()
}
for step, (row, ev) in enumerate(evaluations.items()):
    s.run.log_metrics(step, source=row, bleu=ev.bleu, corpus_bleu=ev.corpus_bleu,
                      pass_rate=ev.pass_rate, share_apps_above_75=ev.share_apps_above_75)
    s.run.artifact(f"evaluation-{row}.json").write_text(phase2.to_json(ev.to_dict()))
table = phase2.comparison_table(evaluations)
print(table)
"""),
    ("md", """
## Seed targets
The seed's success criteria for the Phase-2 model, reported as measured: met or missed.
"""),
    ("code", """
model_eval = evaluations["model"]
criteria = phase2.success_criteria(model_eval, P.eval)
print(criteria_table(criteria))
"""),
    ("code", """
fig, ax = plt.subplots(figsize=(6, 3))
for row, ev in evaluations.items():
    ax.hist([v for v in ev.pass_rates.values() if v == v], bins=10, range=(0, 1),
            alpha=0.5, label=row)
ax.set_xlabel("pass rate of the original tests on the rebuild")
ax.set_ylabel("apps")
ax.legend()
fig.tight_layout()
fig.savefig(s.run.artifact("pass_rate_hist.png"), dpi=100)
"""),
    ("code", """
results = {
    "source": "untrained extractor (stage 1/2 not built yet)",
    "bleu": model_eval.bleu,
    "corpus_bleu": model_eval.corpus_bleu,
    "pass_rate": model_eval.pass_rate,
    "share_apps_above_75": model_eval.share_apps_above_75,
    "n_apps": len(test_apps),
    "by_source": {row: ev.to_dict() for row, ev in evaluations.items()},
    "criteria": [{"name": c.name, "target": c.target, "value": c.value, "verdict": c.verdict}
                 for c in criteria],
}
s.run.write_summary({k: v for k, v in results.items() if k != "by_source"})
(s.run.dir / "results.json").write_text(phase2.to_json(results))
report = write_report(s.run.dir / "report.md", f"Phase 2 run {s.run.run_id}", {
    "Status": "Stage 1 and stage 2 training are not built yet: the model row is the untrained "
              "extractor, so the targets below are expected to be missed.",
    "Setup": f"{len(test_apps)} test apps; extractor {P.extractor.variant} on "
             f"{P.extractor.base_model}; orchestra {[m.name for m in P.orchestra.members]}",
    "Sources": table,
    "Seed targets (model row)": criteria_table(criteria),
    "Files": "results.json, artifacts/evaluation-*.json, artifacts/pass_rate_hist.png",
})
s.run.finish()
print("report:", report)
"""),
]

if __name__ == "__main__":
    for name, cells in {"phase2": PHASE2}.items():
        print(build(name, cells))
