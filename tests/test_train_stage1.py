"""Stage 1 (supervised on gold): the accelerate loop resumes exactly; TRL SFT trains the adapter."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from cetd_lib.apps.app import App
from cetd_lib.models.extractor import load_extractor, make_extractor
from cetd_lib.train.common import linear_schedule, warmup_steps_for
from cetd_lib.train.config import Stage1Config
from cetd_lib.train.stage1 import EarlyStopping, train_stage1


def tiny_app(i: int) -> App:
    source = f"def f{i}(x):\n    return x + {i}\n"
    return App(f"app{i}", {f"m{i}.py": source}, {f"test_m{i}.py": "x = 1\n"}, (f"Adds {i}.",))


APPS = [tiny_app(i) for i in range(6)]
TRAIN, VAL = APPS[:4], APPS[4:]
SMALL = dict(
    base_model="tiny-random", max_code_tokens=64, max_target_tokens=16, decoder_layers=1,
    decoder_feedforward=64, tie_output_embeddings=True,
)  # fmt: skip
CONFIG = Stage1Config(
    epochs=2, batch_size=2, learning_rate=3e-3, warmup_steps=0, val_max_new_tokens=4, patience=5
)


def seed_extractor(tiny_base):
    model, tokenizer = tiny_base
    return make_extractor("seed", base=(copy.deepcopy(model), tokenizer), **SMALL)


class Crash(RuntimeError):
    pass


def test_schedule_and_warmup_cap():
    assert warmup_steps_for(Stage1Config(), 30) == 3  # seed's 200, capped at 10% of 30 steps
    factor = linear_schedule(warmup=2, total=6)
    assert [factor(s) for s in range(7)] == [0.5, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]


def test_early_stopping_prefers_bleu_then_loss():
    stopper = EarlyStopping(patience=2)
    assert stopper.update(0, 0.0, 5.0)
    assert stopper.update(1, 1e-50, 4.0)  # BLEU noise is a tie: the lower loss wins
    assert not stopper.update(2, 0.0, 4.5) and not stopper.should_stop
    assert stopper.update(3, 0.2, 9.0)  # real BLEU gain beats the loss
    assert not stopper.update(4, 0.1, 1.0) and not stopper.update(5, 0.1, 1.0)
    assert stopper.should_stop and stopper.best_epoch == 3


def test_accelerate_loop_resume_after_crash_matches_uninterrupted_run(tiny_base, tmp_path):
    full = train_stage1(seed_extractor(tiny_base), TRAIN, VAL, CONFIG, tmp_path / "full")
    losses = [row["train_loss"] for row in full.history]
    assert losses[-1] < losses[0]  # it learns
    assert full.epochs_run == 2 and full.steps == 4

    def crash_in_epoch_two(step: int) -> None:
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        train_stage1(
            seed_extractor(tiny_base), TRAIN, VAL, CONFIG, tmp_path / "crash",
            on_step=crash_in_epoch_two,
        )  # fmt: skip
    resumed = train_stage1(seed_extractor(tiny_base), TRAIN, VAL, CONFIG, tmp_path / "crash")
    assert resumed.steps == full.steps and resumed.epochs_run == full.epochs_run
    for a, b in zip(resumed.history, full.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    best = load_extractor(resumed.best_dir)
    assert best.checkpoint_metadata(resumed.best_dir)["epoch"] == resumed.best_epoch
    assert math.isfinite(resumed.best_val_loss)


def test_lm_variant_with_trl_sft_trainer(tiny_base, tmp_path, capsys):
    from cetd_lib.tracking.runs import RunRecord

    model, tokenizer = tiny_base
    extractor = make_extractor(
        "lm", base=(copy.deepcopy(model), tokenizer), lora_target_modules=("q_proj", "v_proj"),
        **{k: v for k, v in SMALL.items() if not k.startswith("decoder")},
    )  # fmt: skip
    run = RunRecord.open(tmp_path, "stage1")
    config = Stage1Config(
        epochs=2, batch_size=2, learning_rate=1e-2, warmup_steps=0, val_max_new_tokens=4,
        logging_steps=1,
    )  # fmt: skip
    result = train_stage1(extractor, TRAIN, VAL, config, tmp_path / "s1", run=run)
    assert result.epochs_run == 2 and result.steps == 4
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert (result.best_dir / "extractor.json").exists()
    assert list((tmp_path / "s1" / "checkpoints").glob("checkpoint-*"))  # one per epoch
    keys = {k for row in run.metrics() for k in row}
    assert {"stage1/eval/bleu", "stage1/losses/val", "stage1/losses/train"} <= keys
    assert {"stage1/charts/samples_per_s", "stage1/charts/learning_rate"} <= keys
    assert {"stage1/charts/tokens_per_s", "stage1/losses/train_mean"} <= keys  # TRL num_tokens
    out = capsys.readouterr().out  # LiveMetrics' throttled lines, not HF's dict per log
    assert out.startswith("stage1 step 1/4") and "{'loss'" not in out  # max_steps is the total


def test_trl_sft_resume_after_crash_matches_uninterrupted_run(tiny_base, tmp_path):
    model, tokenizer = tiny_base

    def lm_extractor():
        return make_extractor(
            "lm", base=(copy.deepcopy(model), tokenizer), lora_target_modules=("q_proj", "v_proj"),
            **{k: v for k, v in SMALL.items() if not k.startswith("decoder")},
        )  # fmt: skip

    config = Stage1Config(
        epochs=2, batch_size=2, learning_rate=1e-2, warmup_steps=0, val_max_new_tokens=4,
        patience=5, seed=3,
    )  # fmt: skip
    full = train_stage1(lm_extractor(), TRAIN, VAL, config, tmp_path / "full")

    def crash_in_epoch_two(step: int) -> None:
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        train_stage1(
            lm_extractor(), TRAIN, VAL, config, tmp_path / "crash", on_step=crash_in_epoch_two
        )
    resumed = train_stage1(lm_extractor(), TRAIN, VAL, config, tmp_path / "crash")
    assert resumed.steps == full.steps == 4 and resumed.epochs_run == full.epochs_run == 2
    for a, b in zip(resumed.history, full.history, strict=True):
        assert a["epoch"] == b["epoch"]
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    assert resumed.history[-1]["val_loss"] != pytest.approx(resumed.history[0]["val_loss"])


def test_auto_precision_is_bf16_only_on_cpus_with_native_bf16(monkeypatch):
    from cetd_lib.train import common

    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: True)
    assert common.resolve_mixed_precision("auto", "cpu") == "bf16"
    assert common.resolve_mixed_precision("no", "cpu") == "no"
    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: False)
    assert common.resolve_mixed_precision("auto", "cpu") == "no"
    assert common.resolve_mixed_precision("bf16", "cpu") == "bf16"  # asked for: emulated
    with pytest.raises(ValueError, match="not supported on 'mps'"):
        common.resolve_mixed_precision("bf16", "mps")


def test_gradient_checkpointing_in_the_loop_changes_memory_not_the_maths(tiny_base, tmp_path):
    model, tokenizer = tiny_base
    results = {}
    for checkpointing in (False, True):
        extractor = make_extractor(
            "lm", base=(copy.deepcopy(model), tokenizer), lora_target_modules=("q_proj", "v_proj"),
            **{k: v for k, v in SMALL.items() if not k.startswith("decoder")},
        )  # fmt: skip
        config = Stage1Config(
            epochs=1, batch_size=2, learning_rate=1e-2, warmup_steps=0, val_max_new_tokens=4,
            trainer="loop", mixed_precision="no", gradient_checkpointing=checkpointing,
        )  # fmt: skip
        result = train_stage1(extractor, TRAIN, VAL, config, tmp_path / str(checkpointing))
        results[checkpointing] = result.history[-1]
        assert extractor.model.is_gradient_checkpointing is checkpointing
    assert results[True]["train_loss"] == pytest.approx(results[False]["train_loss"], rel=1e-5)
    assert results[True]["val_loss"] == pytest.approx(results[False]["val_loss"], rel=1e-5)


def test_gradient_checkpointing_names_a_model_that_cannot(tmp_path):
    from cetd_lib.train.stage1 import enable_gradient_checkpointing

    with pytest.raises(ValueError, match="Linear has no gradient_checkpointing_enable"):
        enable_gradient_checkpointing(torch.nn.Linear(2, 2))
