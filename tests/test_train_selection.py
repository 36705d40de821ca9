"""Stage-2 app selection from a calibration run: only apps where gold beats signature_only."""

from __future__ import annotations

import copy
import json
import math

import pytest

from cetd_lib.apps.app import App
from cetd_lib.params import ParamsError, load_params
from cetd_lib.reconstruction.backends import make_backend
from cetd_lib.train.selection import load_calibration_results, select_content_apps


def app(i: int) -> App:
    return App(
        f"inc{i}",
        {f"inc{i}.py": f"def inc(x):\n    return x + {i}\n"},
        {f"test_inc{i}.py": f"from inc{i} import inc\n\n\ndef test_inc():\n    assert inc(1) == {i + 1}\n"},  # noqa: E501
        (f"`inc(x)` returns x plus {i}.",),
    )  # fmt: skip


def results(gold: dict[str, dict[str, float]], control: dict[str, dict[str, float]]) -> dict:
    """A calibration results.json's per_app table: rung -> member -> app -> pass rate."""
    return {"per_app": {"humaneval": {"gold": gold, "signature_only": control}}}


def test_keeps_apps_where_gold_beats_signature_only_on_average_over_members():
    apps = [app(i) for i in range(1, 6)]
    payload = results(
        gold={"a": {"inc1": 0.5, "inc2": 0.5, "inc3": 0.0, "inc4": 1.0},
              "b": {"inc1": 0.5, "inc2": 0.0, "inc3": 0.0, "inc4": math.nan}},
        control={"a": {"inc1": 0.25, "inc2": 0.5, "inc3": 0.0, "inc4": 0.75},
                 "b": {"inc1": 0.5, "inc2": 0.25, "inc3": 0.0}},
    )  # fmt: skip
    selection = select_content_apps(payload, apps, run_id="cal-1")
    # inc1: mean(+.25, 0) > 0; inc4: only member a scored both, +.25
    assert [a.app_id for a in selection.apps] == ["inc1", "inc4"]
    assert selection.gains == pytest.approx(
        {"inc1": 0.125, "inc2": -0.125, "inc3": 0.0, "inc4": 0.25}
    )
    assert "no content to learn" in selection.dropped["inc3"]  # zero spread: both fail
    assert "not measured" in selection.dropped["inc5"]
    recorded = selection.to_dict()
    assert recorded["calibration_run_id"] == "cal-1" and recorded["selected"] == ["inc1", "inc4"]


def test_refuses_an_old_calibration_and_an_empty_selection(tmp_path):
    with pytest.raises(ValueError, match="no signature_only rung"):
        select_content_apps({"per_app": {"f": {"gold": {"a": {"inc1": 1.0}}}}}, [app(1)])
    with pytest.raises(ValueError, match="keeps none"):
        select_content_apps(results({"a": {"inc1": 0.0}}, {"a": {"inc1": 0.0}}), [app(1)])
    with pytest.raises(FileNotFoundError, match="calibration.ipynb"):
        load_calibration_results(tmp_path, "missing")
    path = tmp_path / "p.yaml"
    path.write_text("stage2: {app_selection: calibrated}")
    with pytest.raises(ParamsError, match="calibration_run_id"):
        load_params(path)


def test_phase2_training_trains_stage2_on_the_selected_apps_and_records_them(tiny_base, tmp_path):
    from cetd_lib.studies.phase2_training import run_phase2_training
    from cetd_lib.tracking.runs import RunRecord
    from cetd_lib.tracking.training_config import load_training_config

    calibration = tmp_path / "runs" / "calibration-x"
    calibration.mkdir(parents=True)
    payload = results({"tiny": {"inc1": 0.5, "inc2": 0.5}}, {"tiny": {"inc1": 0.0, "inc2": 0.5}})
    (calibration / "results.json").write_text(json.dumps(payload))
    params = load_params(
        "params/tiny.yaml",
        [
            f"run.outputs_dir={tmp_path}",
            "extractor.max_code_tokens=64",
            "extractor.max_target_tokens=16",
            "harness.workers=1",
            "harness.cache=false",
            "stage2.app_selection=calibrated",
            "stage2.calibration_run_id=calibration-x",
        ],
    )
    run = RunRecord.open(tmp_path, "phase2-train")
    model, tokenizer = tiny_base
    _, stage2_dir = run_phase2_training(
        params,
        {"train": [app(1), app(2)], "val": [app(3)]},
        run,
        backends={"tiny": make_backend("null")},
        base=(copy.deepcopy(model), tokenizer),
    )
    summary = json.loads(run.artifact("train_summary.json").read_text())
    assert summary["stage2_app_selection"]["selected"] == ["inc1"]
    assert "inc2" in summary["stage2_app_selection"]["dropped"]
    assert summary["apps"]["train"] == ["inc1", "inc2"]  # stage 1 saw both
    assert set(load_training_config(stage2_dir, restore_rng=False).data) == {"inc1"}
