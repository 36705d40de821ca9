"""The notebook entry point: stage 1 then stage 2, checkpoints where the ablation reads them."""

from __future__ import annotations

import copy
import json

from cetd_lib.apps.app import App
from cetd_lib.params import load_params
from cetd_lib.reconstruction.backends import make_backend
from cetd_lib.tracking.training_config import FILENAME, load_training_config


def app(i: int) -> App:
    return App(
        f"inc{i}",
        {f"inc{i}.py": f"def inc(x):\n    return x + {i}\n"},
        {f"test_inc{i}.py": f"from inc{i} import inc\n\n\ndef test_inc():\n    assert inc(1) == {i + 1}\n"},  # noqa: E501
        (f"`inc(x)` returns x plus {i}.",),
    )  # fmt: skip


def test_run_phase2_training_on_tiny_params(tiny_base, tmp_path):
    from cetd_lib.evaluation.ablation import find_checkpoint
    from cetd_lib.models import load_extractor
    from cetd_lib.studies.phase2_training import run_phase2_training
    from cetd_lib.tracking.runs import RunRecord

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
    train, val = [app(1), app(2)], [app(3)]
    stage1_dir, stage2_dir = run_phase2_training(
        params,
        {"train": train, "val": val},
        run,
        backends={"tiny": make_backend("null")},  # every rebuild fails: reward 0, fast
        base=(copy.deepcopy(model), tokenizer),
    )
    for stage, path in (("stage1", stage1_dir), ("stage2", stage2_dir)):
        assert find_checkpoint(tmp_path, "phase2-train", stage) == (path, "")
        assert load_extractor(path).variant == "lm"
    summary = json.loads(run.artifact("train_summary.json").read_text())
    assert summary["stage2"]["steps"] == 1
    # what the ablation refuses to evaluate these checkpoints on
    assert summary["apps"] == {"train": sorted(a.app_id for a in train), "val": [val[0].app_id]}
    keys = {k for row in run.metrics() for k in row}
    assert {"stage1/eval/bleu", "stage1/losses/val", "stage1/charts/samples_per_s"} <= keys
    # TRL RLOO's rows mapped onto groups, plus what the reward and the callback add
    # (rewards/pass_rate needs a text the guard accepts: test_train_reward.py covers it)
    stage2 = {
        "rewards/mean", "rewards/std", "rewards/frac_zero_std", "guard/leak_rate",
        "guard/compression_ratio", "charts/samples_per_s", "charts/reconstruction_time_share",
        # the task reward's own spread and the guard's pass share, at every step (issue 29)
        "rewards/reconstruction/within_group_std", "guard/pass_share",
    }  # fmt: skip
    assert {f"stage2/{k}" for k in stage2} <= keys, sorted(k for k in keys if "stage2" in k)
    assert run.summary()["phases"]["stage1"]["epochs"] == 1
    # the training report lists every phase that ran, with its steps and throughput
    from cetd_lib.tracking.report import write_training_report

    text = write_training_report(tmp_path, run).read_text()
    assert "**Phases that ran** (stage1, stage2)" in text
    (stage1_row,) = [line for line in text.splitlines() if line.startswith("| stage1 |")]
    (stage2_row,) = [line for line in text.splitlines() if line.startswith("| stage2 |")]
    assert stage1_row.startswith("| stage1 | 1 | 1 |")  # epochs, last step
    assert "charts/samples_per_s" in stage1_row and "charts/samples_per_s" in stage2_row
    assert "[dashboard](../dashboard/index.html)" in text and "[best](" in text
    # every checkpoint carries training_config.json (monitoring issue)
    work = run.artifact("train")
    epoch_dirs = sorted((work / "stage1" / "checkpoints").glob("checkpoint-*"))
    assert epoch_dirs  # the TRL per-epoch checkpoints
    expected = {
        stage1_dir: (params.stage1.seed, train + val),
        work / "stage1" / "best": (params.stage1.seed, train + val),
        **{d: (params.stage1.seed, train + val) for d in epoch_dirs},
        work / "stage2" / "final": (params.stage2.seed, train),
        stage2_dir: (params.stage2.seed, train),
    }
    for directory, (seed, apps) in expected.items():
        assert (directory / FILENAME).exists(), directory
        config = load_training_config(directory, restore_rng=False)
        assert config.seed == seed, directory
        assert config.data == {a.app_id: a.content_hash() for a in apps}, directory
        assert config.model_config["base_model"] == params.extractor.base_model
        assert config.optimizer["lr"] > 0 and "weight_decay" in config.optimizer
        assert {"kind", "warmup_steps", "total_steps"} <= set(config.schedule)
        assert "python" in config.rng_state and "torch" in config.rng_state
        config.restore_rng()  # the stored state is usable


def test_seed_variant_loops_write_training_configs(tiny_base, tmp_path):
    from cetd_lib.models.extractor import make_extractor
    from cetd_lib.train.config import Stage1Config, Stage2Config
    from cetd_lib.train.reward import make_reconstruction_reward
    from cetd_lib.train.stage1 import train_stage1
    from cetd_lib.train.stage2 import train_stage2

    model, tokenizer = tiny_base
    extractor = make_extractor(
        "seed", base=(copy.deepcopy(model), tokenizer), max_code_tokens=64, max_target_tokens=16,
        decoder_layers=1, decoder_feedforward=64, tie_output_embeddings=True,
    )  # fmt: skip
    train, val = [app(1), app(2)], [app(3)]
    s1 = Stage1Config(epochs=1, batch_size=2, val_max_new_tokens=4, seed=5)
    result1 = train_stage1(extractor, train, val, s1, tmp_path / "s1")
    reward = make_reconstruction_reward(
        {a.app_id: a for a in train}, reconstruct_fn=lambda apps, lists: [0.5] * len(apps)
    )
    s2 = Stage2Config(algorithm="loop", batch_size=2, num_samples=2, max_new_tokens=4, seed=6)
    result2 = train_stage2(extractor, train, reward, s2, tmp_path / "s2")
    for directory, seed, apps in (
        (result1.best_dir, 5, train + val),
        (tmp_path / "s1" / "checkpoints" / "epoch-0", 5, train + val),
        (tmp_path / "s2" / "checkpoints" / "epoch-0", 6, train),
        (result2.final_dir, 6, train),
    ):
        config = load_training_config(directory, restore_rng=False)
        assert config.seed == seed and config.extra["stage_config"]["seed"] == seed
        assert config.data == {a.app_id: a.content_hash() for a in apps}, directory
        assert config.optimizer["name"] == "AdamW" and config.schedule["kind"] == "linear"
        assert config.model_config["variant"] == "seed"
