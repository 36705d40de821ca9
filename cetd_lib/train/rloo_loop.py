"""Stage 2, hand-written: REINFORCE with a leave-one-out baseline (RLOO), read top to bottom.

For each app, K requirement texts y_1..y_K are sampled from the extractor and scored by the
guarded reconstruction reward r_j. The policy-gradient loss is

    A_j  = r_j - mean_{k != j} r_k                      (leave-one-out baseline; Kool et al.
                                                         2019, Ahmadian et al. 2024 "RLOO")
    L_pg = -mean_j( A_j * log p(y_j | code) )           (REINFORCE, Williams 1992)
    L    = L_pg + lambda * CE(gold | code) + beta * KL(p || p_ref)

with the gradient flowing through log p (the seed computed `-reward * loss.detach()`, which has
no gradient at all). `baseline='constant'` uses the seed's A_j = r_j - 0.5 instead. The KL term
is the k3 estimator exp(q - p) - (q - p) - 1 per token (Schulman 2020, "Approximating KL
divergence"), against a frozen copy of the stage-1 extractor; beta = 0 skips it (the seed).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cetd_lib.apps.app import App
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.tracking.series import nanmean
from cetd_lib.train.config import Stage2Config

if TYPE_CHECKING:
    from cetd_lib.models.extractor import RequirementExtractor
    from cetd_lib.tracking.live import LiveMetrics

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# ALGO LOGIC: pure functions on tensors
# ---------------------------------------------------------------------------------------------


def leave_one_out_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """(apps, K) rewards, NaN = not measured -> advantages r_j - mean_{k != j, valid} r_k.

    A NaN reward, or a group with fewer than 2 valid rewards, gets advantage 0.

    >>> leave_one_out_advantages(torch.tensor([[1.0, 0.0, 0.5]])).tolist()
    [[0.75, -0.75, 0.0]]
    """
    valid = ~torch.isnan(rewards)
    values = torch.where(valid, rewards, torch.zeros_like(rewards))
    count = valid.sum(dim=1, keepdim=True)
    others = (values.sum(dim=1, keepdim=True) - values) / (count - 1).clamp(min=1)
    advantages = values - others
    return torch.where(valid & (count >= 2), advantages, torch.zeros_like(advantages))


def constant_baseline_advantages(rewards: torch.Tensor, baseline: float = 0.5) -> torch.Tensor:
    """The seed's advantages r_j - baseline (0 where the reward is NaN)."""
    return torch.nan_to_num(rewards - baseline, nan=0.0)


def zero_variance_fraction(rewards: torch.Tensor) -> float:
    """Share of groups whose valid rewards are all equal: they carry no RLOO signal."""
    flat = []
    for row in rewards:
        kept = row[~torch.isnan(row)]
        flat.append(bool(kept.numel() < 2 or (kept.max() - kept.min()).abs() < 1e-12))
    return sum(flat) / len(flat) if flat else float("nan")


def policy_gradient_loss(advantages: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """-mean(A * log p): its gradient is the REINFORCE estimator; A carries no gradient."""
    return -(advantages.detach() * log_probs).mean()


def k3_kl(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, mask: torch.Tensor):
    """Token-mean of exp(q - p) - (q - p) - 1, q = reference log p: an unbiased, always
    non-negative estimate of KL(p || q) under samples of p (Schulman 2020)."""
    delta = (ref_log_probs - log_probs) * mask
    per_token = (torch.exp(delta) - delta - 1.0) * mask
    return per_token.sum() / mask.sum().clamp(min=1)


# ---------------------------------------------------------------------------------------------
# One update
# ---------------------------------------------------------------------------------------------


def policy_gradient_step(
    extractor: RequirementExtractor,
    optimizer: torch.optim.Optimizer,
    codes: Sequence[str],
    samples: Sequence[str],
    rewards: torch.Tensor,
    config: Stage2Config,
    *,
    gold: Sequence[str] | None = None,
    reference: Any = None,
    scheduler: Any = None,
) -> dict[str, float]:
    """One optimizer step on K = len(samples) / len(codes) samples per code.

    `samples[i * K + j]` is sample j of `codes[i]` (the order `extract_requirements(n=K)`
    returns); `rewards` is (len(codes), K) with NaN for "not measured".
    """
    apps, k = rewards.shape
    if len(codes) != apps or len(samples) != apps * k:
        raise ValueError(
            f"{len(codes)} codes, {len(samples)} samples, rewards {tuple(rewards.shape)}"
        )
    if config.loop_baseline == "leave_one_out":
        advantages = leave_one_out_advantages(rewards)
    else:
        advantages = constant_baseline_advantages(rewards, config.constant_baseline)
    repeated = [code for code in codes for _ in range(k)]
    # Dropout off (as TRL's disable_dropout): samples were drawn in eval mode, so the scored
    # log-probs must be of that same policy; eval() keeps gradients.
    extractor.eval()
    scored = extractor.token_log_probs(repeated, list(samples))
    log_probs = scored.values.sum(dim=-1)
    loss_pg = policy_gradient_loss(advantages.reshape(-1).to(log_probs.device), log_probs)
    loss = loss_pg
    stats: dict[str, float] = {"losses/policy": float(loss_pg.detach())}
    if config.loop_ce_weight and gold is not None:
        loss_ce = extractor.loss(list(codes), list(gold))
        loss = loss + config.loop_ce_weight * loss_ce
        stats["losses/ce_gold"] = float(loss_ce.detach())
    kl = float("nan")
    if reference is not None:
        with torch.no_grad():
            ref = reference.token_log_probs(repeated, list(samples)).values
        kl_term = k3_kl(scored.values, ref, scored.mask.to(scored.values.dtype))
        kl = float(kl_term.detach())
        if config.beta:
            loss = loss + config.beta * kl_term
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.max_grad_norm:
        torch.nn.utils.clip_grad_norm_(extractor.trainable_parameters(), config.max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    stats.update(
        {
            "losses/total": float(loss.detach()),
            "losses/kl": kl,
            "advantages/abs_mean": float(advantages.abs().mean()),
            "completions/mean_log_prob": float(log_probs.detach().mean()),
        }
    )
    return stats


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


@dataclass
class Stage2Result:
    final_dir: Path
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "final_dir": str(self.final_dir)}


def train_rloo_loop(
    extractor: RequirementExtractor,
    train_apps: Sequence[App],
    reward_fn: Callable[..., list[float | None]],
    config: Stage2Config,
    out_dir: str | Path,
    *,
    run: RunRecord | None = None,
    live: LiveMetrics | None = None,
) -> Stage2Result:
    """RLOO on `train_apps` with `reward_fn` (TRL shape, e.g. `make_reconstruction_reward`).

    Logs, per step, to `live` (or a LiveMetrics on `run`) under `stage2/`: losses, reward
    mean/std, the fraction of groups with zero reward variance, pass rate, leak rate,
    compression ratio (from the reward's `.log`), KL to the stage-1 extractor, samples/s and the
    share of the step spent reconstructing apps. Saves `<out>/final`.
    """
    from cetd_lib.tracking.live import training_metrics

    with training_metrics(run, live) as live:
        return _rloo_loop(extractor, train_apps, reward_fn, config, Path(out_dir), live)


def _rloo_loop(extractor, train_apps, reward_fn, config, out, live) -> Stage2Result:
    from cetd_lib.apps.degrade import render_context
    from cetd_lib.apps.requirements import format_requirements
    from cetd_lib.train.common import linear_schedule, warmup_steps_for, write_training_config

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    reference = None
    if config.beta:
        reference = copy.deepcopy(extractor).eval()
        for param in reference.parameters():
            param.requires_grad_(False)
    steps_per_epoch = math.ceil(len(train_apps) / config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(extractor.trainable_parameters(), lr=config.learning_rate)
    warmup = warmup_steps_for(config, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(warmup, total))

    def save(directory: Path, meta: dict[str, Any]) -> Path:
        extractor.save(directory, metadata=meta)
        write_training_config(
            directory, extractor, config, train_apps, step=meta["step"],
            optimizer={
                "name": "AdamW", "lr": config.learning_rate,
                "weight_decay": optimizer.defaults["weight_decay"],
            },
            schedule={"kind": "linear", "warmup_steps": warmup, "total_steps": total},
        )  # fmt: skip
        return directory

    history: list[dict[str, float]] = []
    step = 0
    if live is not None:
        live.expect(total, phase="stage2")
    for epoch in range(config.epochs):
        order = torch.randperm(
            len(train_apps), generator=torch.Generator().manual_seed(config.seed * 1000 + epoch)
        ).tolist()
        for start in range(0, len(order), config.batch_size):
            if config.max_steps and step >= config.max_steps:
                break
            batch = [train_apps[i] for i in order[start : start + config.batch_size]]
            codes = [render_context(app, config.context_level) for app in batch]
            started = time.perf_counter()
            samples = extractor.extract_requirements(
                codes,
                max_new_tokens=config.max_new_tokens,
                do_sample=True,
                temperature=config.temperature,
                top_p=config.top_p,
                n=config.num_samples,
                seed=config.seed * 100_003 + step,
            )
            ids = [app.app_id for app in batch for _ in range(config.num_samples)]
            raw = reward_fn(None, samples, app_id=ids)
            rewards = torch.tensor([float("nan") if r is None else float(r) for r in raw]).reshape(
                len(batch), config.num_samples
            )
            learning_rate = scheduler.get_last_lr()[0]  # the rate this update uses
            stats = policy_gradient_step(
                extractor,
                optimizer,
                codes,
                samples,
                rewards,
                config,
                gold=[format_requirements(app.requirements) for app in batch],
                reference=reference,
                scheduler=scheduler,
            )
            step += 1
            elapsed = time.perf_counter() - started
            stats.update(
                {
                    "rewards/mean": nanmean(rewards.reshape(-1).tolist()),
                    "rewards/std": float(torch.nan_to_num(rewards).std(unbiased=False)),
                    "rewards/frac_zero_std": zero_variance_fraction(rewards),
                    "charts/samples_per_s": len(samples) / elapsed,
                    "charts/learning_rate": learning_rate,
                    "charts/epoch": epoch + (start + len(batch)) / len(order),  # as HF's
                }
            )
            reward_log = getattr(reward_fn, "log", None)
            if reward_log is not None and reward_log.steps:
                latest = reward_log.latest()
                for key in (
                    "rewards/pass_rate",
                    "eval/bleu",
                    "guard/leak_rate",
                    "guard/pass_share",
                    "guard/compression_ratio",
                    "rewards/reconstruction/within_group_std",
                ):
                    stats[key] = latest[key]
                stats["charts/reconstruction_time_share"] = reward_log.reconstruct_s[-1] / elapsed
            history.append({"step": step, **stats})
            if live is not None:
                live.log(step, phase="stage2", **stats)
        save(out / "checkpoints" / f"epoch-{epoch}", {"stage": 2, "epoch": epoch, "step": step})
        if config.max_steps and step >= config.max_steps:
            break
    final = save(out / "final", {"stage": 2, "step": step})
    result = Stage2Result(final_dir=final, steps=step, history=history)
    (out / "stage2_result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result
