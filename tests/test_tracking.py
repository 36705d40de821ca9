import json
import random

import numpy as np
import pytest
import torch

from cetd_lib.tracking.runs import (
    RunExistsError,
    RunNotResumableError,
    RunRecord,
    list_runs,
    new_run_id,
    set_seed,
    write_json_atomic,
)


def test_run_record_layout_and_manifest(tmp_path):
    run = RunRecord.open(tmp_path, "r1", kind="phase2", params_yaml="run: {}\n", seed=3)
    manifest = run.manifest()
    assert manifest["status"] == "running" and manifest["seed"] == 3
    assert manifest["packages"]["torch"].startswith("2.13.0")
    assert set(manifest["git"]) == {"sha", "dirty"}
    assert (run.dir / "params.yaml").read_text() == "run: {}\n"
    assert (run.dir / "artifacts").is_dir()
    run.log_metrics(1, loss=2.5)
    run.log_metrics(2, loss=1.5)
    run.write_summary({"bleu": 0.1})
    run.finish()
    assert [row["loss"] for row in run.metrics()] == [2.5, 1.5]
    assert run.summary() == {"bleu": 0.1}
    assert run.status == "completed" and run.manifest()["ended_at"]


def test_run_never_overwrites_another(tmp_path):
    run = RunRecord.open(tmp_path, "same")
    run.log_metrics(0, loss=1.0)
    with pytest.raises(RunExistsError, match="same"):
        RunRecord.open(tmp_path, "same")
    assert len(run.metrics()) == 1


def test_fresh_ids_do_not_collide():
    assert len({new_run_id("x") for _ in range(200)}) == 200


def test_crashed_run_stays_incomplete_and_resumes(tmp_path):
    with pytest.raises(RuntimeError):
        with RunRecord.open(tmp_path, "crash", params_yaml="a: 1\n") as run:
            run.log_metrics(0, loss=1.0)
            raise RuntimeError("boom")
    assert RunRecord(tmp_path / "runs" / "crash").status == "failed"
    resumed = RunRecord.open(tmp_path, "crash", params_yaml="a: 1\n", resume=True)
    assert resumed.status == "running" and len(resumed.manifest()["sessions"]) == 2
    assert resumed.metrics()[0]["loss"] == 1.0
    with pytest.raises(RunNotResumableError, match="different params"):
        RunRecord.open(tmp_path, "crash", params_yaml="a: 2\n", resume=True)
    resumed.finish()
    with pytest.raises(RunNotResumableError, match="completed"):
        RunRecord.open(tmp_path, "crash", resume=True)


def test_torn_last_metrics_line_is_skipped_but_corruption_inside_is_not(tmp_path):
    run = RunRecord.open(tmp_path, "torn")
    run.log_metrics(0, loss=1.0)
    with open(run.dir / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 1, "lo')
    assert len(run.metrics()) == 1
    with open(run.dir / "metrics.jsonl", "a") as handle:
        handle.write("\n" + json.dumps({"step": 2}) + "\n")
    with pytest.raises(ValueError, match="corrupt metrics line"):
        run.metrics()


def test_atomic_write_keeps_old_file_when_the_write_crashes(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"ok": 1})

    def disk_full(fd):
        raise OSError("disk full")

    monkeypatch.setattr("cetd_lib.tracking.runs.os.fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"ok": 2})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_list_runs(tmp_path):
    RunRecord.open(tmp_path, "a")
    RunRecord.open(tmp_path, "b")
    assert [r.run_id for r in list_runs(tmp_path)] == ["a", "b"]


def test_set_seed_makes_python_numpy_torch_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    set_seed(5)
    first = draw()
    set_seed(5)
    assert draw() == first


def test_manifest_records_the_sandbox_generated_code_ran_under(tmp_path):
    from cetd_lib.sandbox.config import HarnessConfig
    from cetd_lib.sandbox.runner import run_app_tests

    run = RunRecord.open(tmp_path, "sbx", kind="phase2")
    assert run.manifest()["sandbox"] is None  # nothing has run yet
    result = run_app_tests(
        {"m.py": "def f():\n    return 1\n"},
        {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"},
        config=HarnessConfig(workers=1, cache=False),
    )
    run.finish()
    assert result.sandbox in ("namespaces", "rlimits-only")
    assert result.sandbox in run.manifest()["sandbox"].split("+")
