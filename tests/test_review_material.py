"""Where the reviewed requirements come from: a phase2 run, or a loud fallback without one."""

import json
from pathlib import Path

import pytest

from cetd_lib.params import load_params
from cetd_lib.review import ReviewSourceError, load_material

ROOT = Path(__file__).resolve().parents[1]


def params(tmp_path, *overrides):
    return load_params(ROOT / "params" / "tiny.yaml", [f"run.outputs_dir={tmp_path}", *overrides])


def fake_phase2_run(outputs: Path, run_id: str, started: str) -> None:
    artifacts = outputs / "runs" / run_id / "artifacts"
    artifacts.mkdir(parents=True)
    (artifacts.parent / "manifest.json").write_text(json.dumps({"started_at": started}))
    for source in ("model", "gold"):
        payload = {"requirements": {"bloom_filter": [f"{source} says {run_id}."]}}
        (artifacts / f"evaluation-{source}.json").write_text(json.dumps(payload))


def test_without_a_run_it_falls_back_to_gold_vs_phase1_and_says_so(tmp_path, caplog):
    material = load_material(params(tmp_path))
    assert material.sources == ["phase1", "gold"] and material.origin == "no-run"
    assert "no phase2 run" in material.note and "no phase2 run" in caplog.text
    explicit = load_material(params(tmp_path, "review.sources=[gold,degraded-gold]"))
    assert explicit.sources == ["gold", "degraded-gold"] and "NOTE" not in explicit.note


def test_latest_phase2_run_supplies_the_sources(tmp_path):
    fake_phase2_run(tmp_path, "phase2-old", "2026-01-01T00:00:00+00:00")
    fake_phase2_run(tmp_path, "phase2-new", "2026-02-01T00:00:00+00:00")
    material = load_material(params(tmp_path))
    assert material.origin == "phase2-new"
    assert material.requirements["model"] == {"bloom_filter": ["model says phase2-new."]}
    assert "def " in material.code["bloom_filter"]  # the app's code comes from data.apps_dir
    pinned = load_material(params(tmp_path, "review.source_run=phase2-old"))
    assert pinned.origin == "phase2-old"
    with pytest.raises(ReviewSourceError, match="run the phase2 notebook first"):
        load_material(params(tmp_path, "review.source_run=phase2-missing"))
