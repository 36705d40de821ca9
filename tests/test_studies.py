"""Each study's `run(session)` on the tiny model, without papermill: what it writes into the run
record (results.json in the shared table, summary, report, artifacts), what the readers of its
results.json get back, and the dashboard page built from it (one test per study).

One run per study, shared by the module (the phase-2 one trains both stages: the slow part)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cetd_lib import session as cetd_session
from cetd_lib.tracking.dashboard import build_dashboard
from cetd_lib.tracking.results import MEASURED, SCHEMA, read_results_table
from cetd_lib.tracking.views import chart_metric

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "params" / "tiny.yaml"


def start(outputs: Path, kind: str, *overrides: str) -> cetd_session.Session:
    return cetd_session.start(TINY, None, [f"run.outputs_dir={outputs}", *overrides], kind=kind)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studies")


@pytest.fixture(scope="module")
def phase1_run(outputs):
    from cetd_lib.studies import phase1

    s = start(outputs, "phase1")
    return s, phase1.run(s)


@pytest.fixture(scope="module")
def phase2_run(outputs):
    from cetd_lib.studies import phase2

    s = start(outputs, "phase2")
    return s, phase2.run(s)


@pytest.fixture(scope="module")
def ablation_run(outputs, phase2_run):
    from cetd_lib.studies import ablation

    s = start(outputs, "ablation", f"ablation.phase2_run_id={phase2_run[0].run.run_id}")
    return s, ablation.run(s)


@pytest.fixture(scope="module")
def error_analysis_run(outputs, ablation_run):
    from cetd_lib.studies import error_analysis

    s = start(outputs, "error_analysis", f"ablation.analysis_run_id={ablation_run[0].run.run_id}")
    return s, error_analysis.run(s)


@pytest.fixture(scope="module")
def multitask_run(outputs):
    from cetd_lib.studies import multitask

    s = start(outputs, "multitask")
    return s, multitask.run(s)


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    """A review of gold vs phase 1 (no phase-2 run in its own outputs): two items rated, the
    first side preferred both times, then summarised."""
    from cetd_lib.studies import review

    outputs = tmp_path_factory.mktemp("review")
    s = start(outputs, "human_review", "review.n_items=2", "review.repeat_rate=0")
    opened = review.start(s)
    for item in opened.session.items[:2]:
        opened.session.submit_text(item.item_id, "5555 | 1111 | L | the left one")
    return s, review.run(s, opened), opened, outputs


@pytest.fixture(scope="module")
def calibration_run(outputs):
    from cetd_lib.studies import calibration

    s = start(outputs, "calibration")
    return s, calibration.run(s)


def written(s: cetd_session.Session) -> dict:
    """The run's results.json, checked to hold the shared table, and the run completed."""
    assert s.run.status == "completed"
    assert (s.run.dir / "report.md").is_file()
    data = json.loads((s.run.dir / "results.json").read_text())
    assert data["schema"] == SCHEMA and data["run_id"] == s.run.run_id
    return data


def assert_ci_brackets(table, metric: str = "pass_rate") -> None:
    for block in table.row_sets.values():
        for row in block.sources.values():
            if row.measured:
                e = row.metrics[metric]
                assert e.ci_low <= e.value <= e.ci_high


def dashboard_of(outputs: Path, s: cetd_session.Session, tmp_path: Path) -> str:
    text = build_dashboard(outputs, [s.run.run_id], tmp_path / "d.html").read_text()
    assert "written before the shared results schema" not in text
    return text


def test_phase1_writes_the_retrieval_row_per_split(phase1_run):
    s, results = phase1_run
    data = written(s)
    table = read_results_table(data)
    assert table == results.table and table.kind == "phase1"
    assert list(table.row_sets) == ["val", "test"]
    for split, block in table.row_sets.items():
        assert list(block.sources) == ["phase1"] and block.sources["phase1"].measured
        assert block.sources["phase1"].n_apps == len(block.app_ids)
        # artifacts keep their per-split names: error analysis reads them back
        assert (s.run.dir / "artifacts" / f"evaluation-phase1_{split}.json").is_file()
    assert_ci_brackets(table)
    apps = [app for block in table.row_sets.values() for app in block.app_ids]
    assert [r["app_id"] for r in data["per_app"]] == apps
    assert all(r["neighbour"] != r["app_id"] for r in data["per_app"])  # never its own gold
    assert set(s.run.summary()) == {"val/bleu", "val/pass_rate", "test/bleu", "test/pass_rate"}
    assert (s.run.dir / "artifacts" / "phase1_per_app.png").is_file()


def test_phase2_results_keep_every_key_the_docs_quote(phase2_run):
    """docs/study.md and docs/training.md read these keys of phase-2 results: the shared table
    sits beside them, and both give the same numbers."""
    s, results = phase2_run
    data = written(s)
    for key in ("source", "bleu", "corpus_bleu", "pass_rate", "share_apps_above_75", "n_apps",
                "by_source", "ranking", "by_row_set", "criteria", "training"):  # fmt: skip
        assert key in data, key
    assert set(data["by_row_set"]) == {"test", "holdout"} == set(data["ranking"])
    for block in data["by_row_set"].values():
        assert set(block) == {
            "app_ids", "by_source", "comparisons", "ranking", "ratios_to_gold", "apps_needed"
        }  # fmt: skip
    table = read_results_table(data)
    for row_set, block in data["by_row_set"].items():
        assert list(table.row_sets[row_set].app_ids) == block["app_ids"]
        assert list(table.row_sets[row_set].sources) == list(block["by_source"])
        for source, ev in block["by_source"].items():
            value = table.metric(row_set, source).value
            assert value == ev["pass_rate"] or (value is None and ev["pass_rate"] is None)
    assert {"gold", "phase1", "phase2_stage1", "phase2_stage2"} <= set(data["by_source"])
    assert data["pass_rate"] == data["by_source"]["phase2_stage2"]["pass_rate"]
    assert_ci_brackets(table)
    summary = s.run.summary()
    assert "phases" in summary  # recorded by training, kept by the study
    assert summary["criteria"] == data["criteria"] and "by_row_set" not in summary
    assert results.training_report is not None and results.training_report.is_file()
    for png in ("training_curves.png", "pass_rate_hist.png"):
        assert (s.run.dir / "artifacts" / png).is_file()


def test_ablation_reads_the_phase2_checkpoints_into_one_table(ablation_run, phase2_run):
    s, results = ablation_run
    data = written(s)
    table = read_results_table(data)
    assert list(table.row_sets) == ["test", "holdout"]
    sources = table.row_sets["test"].sources
    assert list(sources) == list(s.params.ablation.sources)
    assert all(row.status == MEASURED for row in sources.values())
    run_dir = str(phase2_run[0].run.dir)
    assert set(data["checkpoints"]) == {"phase2_stage1", "phase2_stage2"}
    assert all(path.startswith(run_dir) for path in data["checkpoints"].values())
    # context conditions read code: their BLEU against gold requirements is not reported
    assert sources["level1"].metrics["bleu"].value is None
    assert_ci_brackets(table)
    assert data["by_row_set"]["test"]["ranking"]["verdict"] == s.run.summary()["ranking/test"]
    assert s.run.summary()["pass_rate/gold"] == sources["gold"].metrics["pass_rate"].value


def test_error_analysis_of_the_ablation_run(error_analysis_run, ablation_run):
    s, results = error_analysis_run
    data = written(s)
    table = read_results_table(data)
    analysed = read_results_table(
        json.loads((ablation_run[0].run.dir / "results.json").read_text())
    )
    # the test row set of the ablation (its holdout artifacts sit in a folder of their own)
    assert list(table.row_sets) == ["analysed"]
    assert set(table.row_sets["analysed"].sources) == set(analysed.row_sets["test"].sources)
    for source, row in table.row_sets["analysed"].sources.items():
        assert row.metrics["pass_rate"].value == analysed.metric("test", source).value
    assert data["analysed_run"] == str(ablation_run[0].run.dir)
    assert set(data["failure_counts"]) == set(table.row_sets["analysed"].sources)
    assert data["examples"]  # the ablation wrote reconstruction records: samples exist
    assert (s.run.dir / "artifacts" / "failure_classes.png").is_file()


def test_an_unmeasured_ablation_condition_is_a_row_with_its_reason():
    from cetd_lib.evaluation.ablation import ABLATION_SOURCES, AblationConfig, ConditionResult
    from cetd_lib.studies.ablation import _row

    reason = "no phase-2 run given (ablation.phase2_run_id)"
    row = _row(ConditionResult(ABLATION_SOURCES["phase2_stage2"], unavailable=reason),
               AblationConfig(), seed=0)  # fmt: skip
    assert (row.status, row.measured, row.metrics) == (reason, False, {})


def test_calibration_table_and_what_stage2_selection_reads(calibration_run):
    from cetd_lib.apps.app import load_apps
    from cetd_lib.train.selection import select_content_apps

    s, results = calibration_run
    data = written(s)
    table = read_results_table(data)
    C = s.params.calibration
    assert list(table.row_sets) == list(C.families)
    members = [m.name for m in s.params.orchestra.members]
    block = table.row_sets["bundled"]
    assert set(block.sources) == {f"{m}/{r}" for m in members for r in C.ladder}
    for rung in C.ladder:
        summary = results.runs[0].calibrations[members[0]].rungs[rung]
        assert table.metric("bundled", f"{members[0]}/{rung}").value == summary.mean
    # train.selection reads the per-app ladder back from the same file: every app measured
    # (the tiny random model rebuilds nothing, so none is kept)
    candidates = [a for a in load_apps(None) if a.app_id in block.app_ids]
    assert len(candidates) == len(block.app_ids) == C.n_apps
    with pytest.raises(ValueError, match=f"none of the {C.n_apps} .* 0 not measured there"):
        select_content_apps(data, candidates, run_id=s.run.run_id)
    assert set(s.run.summary()) == {f"verdict/{m}/bundled" for m in members}


def test_multitask_table_holds_each_tasks_headline_beside_the_evaluation(multitask_run):
    s, results = multitask_run
    data = written(s)
    table = read_results_table(data)
    row = table.row_sets["heldout"].sources["multitask"]
    assert row.measured and table.row_sets["heldout"].app_ids == ()
    assert row.metrics["quality_macro_f1"].value == data["quality"]["macro"]["f1"]
    assert row.metrics["security_macro_f1"].value == data["security"]["macro"]["f1"]
    for key in ("humaneval", "targets", "gates", "error_analysis", "epochs"):
        assert key in data, key  # run_multitask's evaluation, as before
    targets = {k: v["status"] for k, v in data["targets"].items()}
    assert s.run.summary()["multitask/targets"] == targets
    assert "## Seed targets" in (s.run.dir / "report.md").read_text()
    assert results.training_report is not None and results.training_report.is_file()


def test_review_table_holds_each_sides_win_rate_with_its_wilson_ci(review_run):
    s, results, opened, _ = review_run
    data = written(s)
    table = read_results_table(data)
    block = table.row_sets["rated"]
    assert set(block.sources) == {"gold", "phase1"}
    assert block.app_ids == tuple(sorted({i.app_id for i in opened.session.items}))
    # the left side won both ratings: per source, wins = the items it was shown on the left
    stored = opened.session.store.items(opened.session.session_id)[:2]
    for source, row in block.sources.items():
        wins = sum(item.left_source == source for item in stored)
        win = row.metrics["win_rate"]
        assert win.value == wins / 2 and win.ci_low <= win.value <= win.ci_high
        assert row.n_apps == 2
    assert data["review"]["n_submitted"] == 2 and data["verdict"] is None
    assert s.run.summary()["session_id"] == opened.session.session_id
    assert all(path.is_file() for path in results.files.values())


@pytest.mark.parametrize(
    "study",
    ["phase1", "phase2", "ablation", "calibration", "error_analysis", "multitask", "review"],
)
def test_dashboard_renders_each_study_from_the_shared_table(study, request, outputs, tmp_path):
    s, results, *rest = request.getfixturevalue(f"{study}_run")
    text = dashboard_of(rest[-1] if rest else outputs, s, tmp_path)
    images = re.findall(r'<img alt="([^"]+)"', text)
    for row_set, block in results.table.row_sets.items():
        metric = chart_metric(block)  # pass_rate, or the review's win rate; None: no CIs
        if metric is None:
            assert f"by source, {row_set}" not in " ".join(images)
        else:
            name = metric.replace("_", " ")
            assert (f"{name} by source, {row_set}" in images) == any(
                getattr(r.metrics.get(metric), "value", None) is not None
                for r in block.sources.values()
                if r.measured
            )
        assert f"Results by source: {row_set} ({len(block.app_ids)} apps)" in text
        for source in block.sources:
            assert f"<td>{source}</td>" in text


def test_old_results_json_is_refused_with_a_message_naming_the_file(tmp_path):
    from cetd_lib.tracking.results import ResultsSchemaError
    from cetd_lib.tracking.runs import RunRecord

    with pytest.raises(ResultsSchemaError, match=r"old\.json: written before"):
        read_results_table({"by_split": {"val": {"pass_rate": 0.1}}}, "old.json")
    with pytest.raises(ResultsSchemaError, match="missing 'row_sets'"):
        read_results_table({"schema": SCHEMA, "kind": "x", "run_id": "r", "confidence": 0.9})
    old = RunRecord.open(tmp_path, "ablation-old", kind="ablation", seed=0)
    (old.dir / "results.json").write_text(
        json.dumps({"pass_rates": {"gold": {"mean": 0.8, "ci_low": 0.7, "ci_high": 0.9}}})
    )
    old.log_metrics(0, source="gold", pass_rate=0.8)
    old.finish()
    text = build_dashboard(tmp_path).read_text()
    assert 'id="ablation-old"' in text  # the run still renders, its numbers are refused
    assert "results.json: written before the shared results schema" in text
    assert "pass rate by source," not in text


def test_cli_runs_a_study_into_a_run_record_of_its_kind(tmp_path, capsys):
    from cetd_lib.__main__ import main

    base = ["study", "phase1", "--params", str(TINY), "-p", f"run.outputs_dir={tmp_path}"]
    assert main([*base, "-p", "run.sed=1"]) == 2
    assert "run.sed" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    assert main(base) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (manifest["kind"], manifest["status"]) == ("phase1", "completed")
    assert read_results_table(json.loads((run_dir / "results.json").read_text())).kind == "phase1"
    assert str(run_dir) in capsys.readouterr().out


def test_figures_reach_a_notebook_as_png_whatever_the_backend():
    from matplotlib.figure import Figure

    from cetd_lib.studies.common import figure_image

    fig = Figure()
    fig.subplots().plot([0, 1])
    image = figure_image(fig)
    assert image.format == "png" and image.data.startswith(b"\x89PNG")
    assert image._repr_png_()  # what a notebook front end renders


def test_multitask_data_cli_opens_its_run_like_every_study(tmp_path, monkeypatch, capsys):
    """`multitask-data build` opens its run through session.start (params recorded, seeded)
    and data.build writes into it; the build itself is tested in test_multitask_data."""
    from cetd_lib import cli
    from cetd_lib.apps.splits import SPLITS
    from cetd_lib.multitask.data import build as data_build

    sheet = {
        "version": "v1",
        "content_hash": "ab" * 16,
        "counts": {"quality": dict.fromkeys(SPLITS, 1)},
        "skipped": {"count": 0},
    }
    monkeypatch.setattr(data_build, "build_sets", lambda cfg, apps_dir=None, log=print: "built")
    monkeypatch.setattr(data_build, "write_build", lambda result, cfg, record: sheet)
    args = ["build", "--params", str(TINY), "--set", f"run.outputs_dir={tmp_path}"]
    assert cli.multitask_data(args) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (manifest["kind"], manifest["status"]) == ("mtdata", "completed")
    assert "tiny-random" in (run_dir / "params.yaml").read_text()
    assert json.loads((run_dir / "summary.json").read_text())["content_hash"] == "ab" * 16
    assert "| quality | 1 | 1 | 1 |" in (run_dir / "report.md").read_text()
    assert "dataset v1" in capsys.readouterr().out
