"""Every notebook runs headless through the CLI; committed notebooks carry no outputs.

Stored-output policy: notebooks are committed with outputs stripped, so nbval (`make test`
runs `pytest --nbval-lax notebooks`) checks that every cell executes without error, and the
numbers live in run records, not in git.
"""

import json
from pathlib import Path

import nbformat
import pytest

from cetd_lib.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(nb.stem == "phase2" for nb in NOTEBOOKS)


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_notebook_is_paired_with_a_percent_script_that_agrees_with_it():
    """notebooks/X.py (jupytext percent format) is the reviewable source of notebooks/X.ipynb;
    `make notebooks` (jupytext --sync) brings the older of the two up to date."""
    import jupytext

    scripts = sorted((ROOT / "notebooks").glob("*.py"))
    assert [p.stem for p in scripts] == [nb.stem for nb in NOTEBOOKS]
    for notebook, script in zip(NOTEBOOKS, scripts, strict=True):
        paired = jupytext.read(script)
        assert paired.metadata["jupytext"]["formats"] == "ipynb,py:percent"
        assert cells(paired) == cells(nbformat.read(notebook, as_version=4)), (
            f"{script.name} and {notebook.name} differ: edit one and run `make notebooks`"
        )
    # the comparison sees a one-character drift in any cell
    drifted = jupytext.read(scripts[0])
    drifted.cells[-1].source += " "
    assert cells(drifted) != cells(jupytext.read(scripts[0]))


MAX_CODE_LINES = 60


def code_lines(script: Path) -> int:
    """Lines of code in the code cells of a jupytext script: no blank lines, no comments."""
    import jupytext

    return sum(
        1
        for cell in jupytext.read(script).cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if line.strip() and not line.strip().startswith("#")
    )


def test_code_lines_count_code_only(tmp_path):
    script = tmp_path / "x.py"
    script.write_text(
        "# %% [markdown]\n# # Title\n# x = 1\n\n# %%\n# a comment\nx = 1\n\ny = [\n    x,\n]\n"
    )
    assert code_lines(script) == 4


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_thin_driver(notebook):
    """A notebook sets parameters, calls its study and draws (STYLE.md): past MAX_CODE_LINES
    it is hiding a library function."""
    lines = code_lines(notebook.with_suffix(".py"))
    assert lines <= MAX_CODE_LINES, (
        f"{notebook.stem}.py has {lines} code lines (> {MAX_CODE_LINES}): move the study into "
        "cetd_lib/studies/"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_stripped_and_parameterised(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{notebook.name}: strip outputs"
            )
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("params_file", "run_id", "overrides"):
        assert f"{name} =" in tagged[0].source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless_into_a_run_record(notebook, tmp_path, capsys):
    code = main(
        [
            "run",
            str(notebook),
            "--params",
            str(ROOT / "params" / "tiny.yaml"),
            "-p",
            f"run.outputs_dir={tmp_path}",
            "--run-id",
            f"t-{notebook.stem}",
        ]
    )
    assert code == 0
    run_dir = tmp_path / "runs" / f"t-{notebook.stem}"
    assert (run_dir / f"{notebook.stem}.ipynb").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert str(run_dir) in capsys.readouterr().out


def test_cli_rejects_unknown_override_before_starting_a_kernel(tmp_path, capsys):
    code = main(
        [
            "run",
            str(ROOT / "notebooks" / "phase2.ipynb"),
            "--params",
            str(ROOT / "params" / "tiny.yaml"),
            "-p",
            "run.sed=1",
            "-p",
            f"run.outputs_dir={tmp_path}",
        ]
    )
    assert code == 2
    assert "run.sed" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_refuses_to_overwrite_a_run(tmp_path, capsys):
    args = [
        "run",
        str(ROOT / "notebooks" / "phase2.ipynb"),
        "--params",
        str(ROOT / "params" / "tiny.yaml"),
        "-p",
        f"run.outputs_dir={tmp_path}",
        "--run-id",
        "dup",
    ]
    (tmp_path / "runs" / "dup").mkdir(parents=True)
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
