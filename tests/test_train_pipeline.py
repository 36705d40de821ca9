"""The notebook entry point: stage 1 then stage 2, checkpoints where the ablation reads them."""

from __future__ import annotations

import copy
import json

from cetd_lib.data import App
from cetd_lib.harness.backends import make_backend
from cetd_lib.params import load_params


def app(i: int) -> App:
    return App(
        f"inc{i}",
        {f"inc{i}.py": f"def inc(x):\n    return x + {i}\n"},
        {f"test_inc{i}.py": f"from inc{i} import inc\n\n\ndef test_inc():\n    assert inc(1) == {i + 1}\n"},  # noqa: E501
        (f"`inc(x)` returns x plus {i}.",),
    )  # fmt: skip


def test_run_phase2_training_on_tiny_params(tiny_base, tmp_path):
    from cetd_lib.ablation import find_checkpoint
    from cetd_lib.models import load_extractor
    from cetd_lib.tracking import RunRecord
    from cetd_lib.train.pipeline import run_phase2_training

    params = load_params(
        "params/tiny.yaml",
        [
            f"run.outputs_dir={tmp_path}",
            "extractor.max_code_tokens=64",
            "extractor.max_target_tokens=16",
            "harness.workers=1",
            "harness.cache=false",
        ],
    )
    run = RunRecord.open(tmp_path, "phase2-train")
    model, tokenizer = tiny_base
    stage1_dir, stage2_dir = run_phase2_training(
        params,
        {"train": [app(1), app(2)], "val": [app(3)]},
        run,
        backends={"tiny": make_backend("null")},  # every rebuild fails: reward 0, fast
        base=(copy.deepcopy(model), tokenizer),
    )
    for stage, path in (("stage1", stage1_dir), ("stage2", stage2_dir)):
        assert find_checkpoint(tmp_path, "phase2-train", stage) == (path, "")
        assert load_extractor(path).variant == "lm"
    summary = json.loads(run.artifact("train_summary.json").read_text())
    assert summary["stage2"]["steps"] == 1
    keys = {k for row in run.metrics() for k in row}
    assert "stage1/epoch/val_bleu" in keys and any(k.startswith("stage2/") for k in keys)
