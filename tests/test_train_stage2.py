"""Stage 2: the RLOO maths, the hand-written update's direction, the loop's logs, TRL RLOO."""

from __future__ import annotations

import copy

import pytest
import torch

from cetd_lib.apps.app import App
from cetd_lib.models.extractor import load_extractor, make_extractor
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.train.config import Stage2Config
from cetd_lib.train.reward import make_reconstruction_reward
from cetd_lib.train.rloo_loop import (
    constant_baseline_advantages,
    k3_kl,
    leave_one_out_advantages,
    policy_gradient_loss,
    policy_gradient_step,
    zero_variance_fraction,
)
from cetd_lib.train.stage2 import train_stage2

APPS = [
    App(f"app{i}", {f"m{i}.py": f"def f{i}(x):\n    return x + {i}\n"}, {"t.py": "x = 1\n"},
        (f"f{i} adds {i} to its argument.",))
    for i in range(2)
]  # fmt: skip
SMALL = dict(base_model="tiny-random", max_code_tokens=64, max_target_tokens=16)
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def lm_extractor(tiny_base, **overrides):
    model, tokenizer = tiny_base
    return make_extractor("lm", base=(copy.deepcopy(model), tokenizer), **{**SMALL, **overrides})


def test_leave_one_out_advantages_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.2, 0.2]])
    # app 0, sample 0: 1 - (0 + .5 + .5) / 3 = 2/3; sample 1: 0 - 2/3; samples 2, 3: .5 - .5 = 0
    expected = torch.tensor([[2 / 3, -2 / 3, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(leave_one_out_advantages(rewards), expected)
    # NaN (not measured) gets 0 and is left out of the others' baselines.
    with_nan = leave_one_out_advantages(torch.tensor([[1.0, float("nan"), 0.0]]))
    assert torch.allclose(with_nan, torch.tensor([[1.0, 0.0, -1.0]]))
    assert torch.allclose(
        constant_baseline_advantages(torch.tensor([[1.0, 0.0]])), torch.tensor([[0.5, -0.5]])
    )
    assert zero_variance_fraction(rewards) == 0.5


def test_policy_gradient_loss_has_gradient_and_kl_is_zero_at_the_reference():
    log_probs = torch.tensor([-1.0, -2.0], requires_grad=True)
    policy_gradient_loss(torch.tensor([1.0, -1.0]), log_probs).backward()
    assert log_probs.grad.tolist() == [-0.5, 0.5]  # descent raises sample 0, lowers sample 1
    values = torch.tensor([[-1.0, -2.0]])
    assert float(k3_kl(values, values, torch.ones_like(values))) == 0.0
    assert float(k3_kl(values, values - 1.0, torch.ones_like(values))) > 0.0


def test_update_raises_the_high_reward_sample_and_lowers_the_low_one(tiny_base):
    extractor = lm_extractor(tiny_base, lora_target_modules=ALL_LINEAR)
    code = "def f(x):\n    return x\n"
    samples = ["1. Returns x unchanged.", "2. Prints nothing at all."]
    with torch.no_grad():
        before = extractor.sequence_log_probs([code, code], samples)
    optimizer = torch.optim.AdamW(extractor.trainable_parameters(), lr=1e-2)
    config = Stage2Config(algorithm="loop", num_samples=2, ce_weight=0.0, beta=0.0)
    stats = policy_gradient_step(
        extractor, optimizer, [code], samples, torch.tensor([[1.0, 0.0]]), config
    )
    with torch.no_grad():
        after = extractor.sequence_log_probs([code, code], samples)
    assert after[0] > before[0] and after[1] < before[1]
    assert stats["losses/policy"] != 0.0


def test_rloo_loop_logs_rl_health_and_guard_stats(tiny_base, tmp_path):
    model, tokenizer = tiny_base
    extractor = make_extractor(
        "seed", base=(copy.deepcopy(model), tokenizer), decoder_layers=1,
        decoder_feedforward=64, tie_output_embeddings=True, **SMALL,
    )  # fmt: skip
    reward = make_reconstruction_reward(
        {app.app_id: app for app in APPS}, reconstruct_fn=lambda apps, lists: [0.5] * len(apps)
    )
    run = RunRecord.open(tmp_path, "stage2")
    config = Stage2Config(
        algorithm="loop", batch_size=2, num_samples=2, max_new_tokens=4, max_steps=1, beta=0.05
    )
    result = train_stage2(extractor, APPS, reward, config, tmp_path / "s2", run=run)
    assert result.steps == 1
    (row,) = [r for r in run.metrics() if "stage2/losses/policy" in r]
    for key in (
        "losses/total", "losses/ce_gold", "rewards/mean", "rewards/std", "rewards/frac_zero_std",
        "rewards/pass_rate", "eval/bleu", "guard/leak_rate", "guard/compression_ratio", "losses/kl",
        "charts/samples_per_s", "charts/reconstruction_time_share", "guard/pass_share",
        "rewards/reconstruction/within_group_std",
    ):  # fmt: skip
        assert f"stage2/{key}" in row, key
    assert row["stage2/losses/kl"] == pytest.approx(0.0, abs=1e-6)  # policy == reference
    assert 0.0 <= row["stage2/charts/reconstruction_time_share"] <= 1.0
    assert load_extractor(result.final_dir).variant == "seed"


def completion_log_prob(model, prompt_ids: list[int], completion_ids) -> float:
    ids = torch.tensor([prompt_ids + list(completion_ids)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
    targets = torch.tensor(list(completion_ids))
    return float(torch.log_softmax(logits, -1).gather(1, targets[:, None]).sum())


def test_trl_rloo_moves_toward_the_rewarded_tokens(tiny_base, tmp_path):
    """A reward favouring even token ids; after one RLOO step the best sample of the group
    gained log-probability relative to the worst (LoRA starts at B = 0, so the model with the
    adapter disabled is the policy the samples came from)."""
    extractor = lm_extractor(tiny_base, lora_target_modules=ALL_LINEAR)
    seen: list[tuple[tuple[int, ...], float]] = []

    def even_tokens(prompts, completions, completion_ids, **kwargs):
        rewards = [sum(t % 2 == 0 for t in ids) / max(1, len(ids)) for ids in completion_ids]
        seen.extend(zip(map(tuple, completion_ids), rewards, strict=True))
        return rewards

    config = Stage2Config(
        batch_size=1, num_samples=4, max_new_tokens=8, learning_rate=5e-2, warmup_steps=0,
        max_steps=1, beta=0.0,
    )  # fmt: skip
    result = train_stage2(extractor, APPS[:1], even_tokens, config, tmp_path / "rloo")
    assert result.steps == 1 and len(seen) == 4
    best, worst = max(seen, key=lambda s: s[1]), min(seen, key=lambda s: s[1])
    assert best[1] > worst[1]
    from cetd_lib.apps.degrade import render_context

    prompt = extractor.prompt_ids(render_context(APPS[0], 1))
    model = extractor.model
    gap_after = completion_log_prob(model, prompt, best[0]) - completion_log_prob(
        model, prompt, worst[0]
    )
    with model.disable_adapter():
        gap_before = completion_log_prob(model, prompt, best[0]) - completion_log_prob(
            model, prompt, worst[0]
        )
    assert gap_after > gap_before
    assert (result.final_dir / "adapter").exists()
    assert "ref" not in model.peft_config
    assert any("frac_reward_zero_std" in row for row in result.history)


def test_run_report_to_reaches_the_trl_config(tmp_path):
    from cetd_lib.train.stage2 import trl_config

    config = Stage2Config(max_steps=1)
    assert trl_config(config, tmp_path, "cpu", ("tensorboard",)).report_to == ["tensorboard"]
    assert trl_config(config, tmp_path, "cpu").report_to in ([], "none", ["none"])


def test_trl_config_disables_dropout_and_ignored_options_raise(tiny_base, tmp_path):
    from cetd_lib.train.stage2 import trl_config

    for algorithm in ("rloo", "grpo"):
        args = trl_config(Stage2Config(algorithm=algorithm, max_steps=1), tmp_path, "cpu")
        assert args.disable_dropout is True
    assert trl_config(Stage2Config(disable_dropout=False), tmp_path, "cpu").disable_dropout is False
    # options only the hand-written loop has: an error naming them, before any training
    extractor = lm_extractor(tiny_base)
    reward = make_reconstruction_reward(
        {app.app_id: app for app in APPS}, reconstruct_fn=lambda apps, lists: [0.5] * len(apps)
    )
    for bad, named in (
        (dict(ce_weight=0.1), "ce_weight=0.1"),
        (dict(baseline="constant"), "baseline='constant'"),
        (dict(algorithm="grpo", baseline="leave_one_out"), "group mean"),
    ):
        with pytest.raises(ValueError, match=named):
            train_stage2(extractor, APPS, reward, Stage2Config(max_steps=1, **bad), tmp_path / "x")
    Stage2Config(ce_weight=0.0).check_trl()  # 0 is what TRL does: allowed
    loop = Stage2Config(algorithm="loop")
    assert (loop.loop_ce_weight, loop.loop_baseline) == (0.1, "leave_one_out")  # the seed's


def _perturbed_adapter(tiny_base):
    """An extractor whose LoRA B is non-zero, as after stage 1 (B = 0 hides dropout noise)."""
    extractor = lm_extractor(tiny_base, lora_target_modules=ALL_LINEAR)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in extractor.model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    return extractor


@pytest.mark.parametrize("disable_dropout", [True, False])
def test_trl_zero_spread_group_makes_no_update_at_step_one(tiny_base, tmp_path, disable_dropout):
    """Every sample gets the same task reward. RLOO's task advantage is then 0, and with
    dropout off the KL to the (identical) reference is 0 too: nothing moves. With dropout on,
    the KL is noise and the adapter moves on it (the study's 11 zero-spread groups)."""
    extractor = _perturbed_adapter(tiny_base)
    before = {
        n: p.detach().clone() for n, p in extractor.model.named_parameters() if p.requires_grad
    }
    reward = make_reconstruction_reward(
        {app.app_id: app for app in APPS}, reconstruct_fn=lambda apps, lists: [0.5] * len(apps)
    )
    config = Stage2Config(
        batch_size=1, num_samples=4, max_new_tokens=8, learning_rate=5e-2, warmup_steps=0,
        max_steps=1, beta=0.5, disable_dropout=disable_dropout,
    )  # fmt: skip
    result = train_stage2(extractor, APPS[:1], reward, config, tmp_path / "zero")
    (row,) = [r for r in result.history if "kl" in r]
    # the task reward's own spread and the guard's pass share reach the logs at every step
    assert row["rewards/reconstruction/within_group_std"] == 0.0
    assert row["guard/pass_share"] == pytest.approx(1.0 - row["guard/reject_rate"])
    moved = max(
        float((p.detach() - before[n]).abs().max())
        for n, p in extractor.model.named_parameters()
        if n in before
    )
    if disable_dropout:
        assert row["kl"] == pytest.approx(0.0, abs=1e-6)
        assert moved < 1e-6
    else:
        assert abs(row["kl"]) > 1e-4
        assert moved > 1e-4
