"""Stage 2: RL of the extractor on the guarded reconstruction reward.

    reward = make_reconstruction_reward(apps_by_id, backends, harness, GuardConfig(),
                                        orchestra=orchestra)
    result = train_stage2(extractor, train_apps, reward, Stage2Config(), "outputs/.../stage2")

- `lm` variant, `algorithm: rloo` (default) or `grpo`: TRL's `RLOOTrainer` / `GRPOTrainer` on
  the extractor's peft model. TRL copies the stage-1 adapter into a frozen "ref" adapter, so
  `beta` is the KL to the stage-1 policy, not to the base model. The dataset holds the same
  conversational prompts the extractor generates from, plus an `app_id` column that TRL hands
  to the reward function.
- `seed` variant, or `algorithm: loop`: the hand-written RLOO loop of `rloo_loop.py`.

Zero-spread groups make no task-driven update. RLOO's advantage of sample i is
r_i - mean_{j != i} r_j (Ahmadian et al. 2024, eq. 5), exactly 0 when an app's K task rewards
are equal; GRPO's (r_i - mean r) / (std r + eps) is 0 there as well. What is left in such a
group is TRL's KL term: RLOO subtracts beta x KL_i (sequence sum of log pi - log pi_ref) from
the reward, so the group moves only toward the stage-1 reference. That term is exactly 0 at
step 1 because dropout is off (`disable_dropout`, default on): with LoRA dropout active the
policy and reference log-probs of the same text differed by noise and the study's zero-spread
groups learned -beta x noise (issue 29). `ce_weight` and `baseline`, which the TRL trainers
have no place for, raise instead of being dropped (`Stage2Config.check_trl`).

The reward function's guard statistics and pass rate reach TRL's logs through its `log_metric`
hook; every logged row goes to the run's LiveMetrics under `stage2/` (TRL's flat keys mapped
onto groups by `cetd_lib.tracking.live.hf_metric_key`: `reward` -> `rewards/mean`, `kl` ->
`losses/kl`, ...), with samples/s and the share of wall time spent reconstructing apps.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cetd_lib.apps.app import App
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.train.config import Stage2Config
from cetd_lib.train.rloo_loop import Stage2Result, train_rloo_loop

if TYPE_CHECKING:
    from cetd_lib.models.extractor import RequirementExtractor
    from cetd_lib.tracking.live import LiveMetrics

log = logging.getLogger(__name__)


def rl_dataset(extractor: RequirementExtractor, apps: Sequence[App], context_level: int = 1):
    """Conversational prompts (the extractor's own prompt) + `app_id`, one row per app."""
    from datasets import Dataset

    from cetd_lib.apps.degrade import render_context

    rows = []
    for app in apps:
        example = extractor.sft_example(render_context(app, context_level), "")
        rows.append({"prompt": example["prompt"], "app_id": app.app_id})
    return Dataset.from_list(rows)


def trl_config(config: Stage2Config, out: Path, device: str, report_to: Sequence[str] = ()) -> Any:
    """RLOOConfig / GRPOConfig for `config`: batch_size apps x num_samples completions a step."""
    from cetd_lib.train.trl_rl import policy_gradient_args

    vllm = {}
    if config.use_vllm:
        require_vllm(device)
        vllm = {"use_vllm": True, "vllm_mode": config.vllm_mode}
    return policy_gradient_args(
        config.algorithm,
        out,
        device=device,
        mixed_precision=config.mixed_precision,
        gradient_checkpointing=config.gradient_checkpointing,
        report_to=report_to,
        num_generations=config.num_samples,
        per_device_train_batch_size=config.batch_size * config.num_samples,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        beta=config.beta,
        disable_dropout=config.disable_dropout,
        temperature=config.temperature,
        top_p=config.top_p,
        max_completion_length=config.max_new_tokens,
        seed=config.seed,
        logging_steps=config.logging_steps,
        **vllm,
    )


def require_vllm(device: str) -> None:
    """Fail early, saying what to do, when stage 2 is asked for vLLM where it cannot run."""
    import importlib.util

    if not device.startswith("cuda"):
        raise ValueError(
            f"stage2.use_vllm needs a CUDA device, but this run uses {device!r}; set "
            "stage2.use_vllm: false (CPU runs generate with the policy itself)"
        )
    if importlib.util.find_spec("vllm") is None:
        raise ImportError(
            "stage2.use_vllm: the vllm package is not installed; install it with "
            "`pip install 'trl[vllm]==1.16.0'` (GPU machines only)"
        )


def _warmup_capped(config: Stage2Config, n_apps: int) -> Stage2Config:
    import dataclasses

    from cetd_lib.train.common import warmup_steps_for

    total = config.epochs * math.ceil(n_apps / config.batch_size)
    if config.max_steps:
        total = min(total, config.max_steps)
    return dataclasses.replace(config, warmup_steps=warmup_steps_for(config, total))


def train_stage2(
    extractor: RequirementExtractor,
    train_apps: Sequence[App],
    reward_fn: Callable[..., list[float | None]],
    config: Stage2Config,
    out_dir: str | Path,
    *,
    run: RunRecord | None = None,
    live: LiveMetrics | None = None,
    device: str = "cpu",
) -> Stage2Result:
    """RL-train `extractor` in place; the final checkpoint is `<out_dir>/final`. Metrics go to
    `live` (a LiveMetrics shared by the run's phases) or a LiveMetrics opened on `run`."""
    from cetd_lib.tracking.live import training_metrics

    if not train_apps:
        raise ValueError("stage 2 needs at least one training app")
    config = _warmup_capped(config, len(train_apps))
    if config.algorithm == "loop" or extractor.variant != "lm":
        if config.algorithm != "loop":
            log.info("stage 2: the %s variant trains with the hand-written loop", extractor.variant)
        return train_rloo_loop(
            extractor, train_apps, reward_fn, config, out_dir, run=run, live=live
        )
    config.check_trl()
    with training_metrics(run, live) as live:
        return _train_trl(extractor, train_apps, reward_fn, config, Path(out_dir), live, device)


def reconstruction_share(reward_fn: Any, clock: Callable[[], float]) -> Callable[[], dict]:
    """For LiveMetricsCallback(extra=...): the share of wall time since the previous row that
    the reward spent rebuilding apps (`reward_fn.log.reconstruct_s`); {} for a reward without
    that log. On CPU generation and reconstruction compete for the step: this says which."""
    reward_log = getattr(reward_fn, "log", None)
    if reward_log is None or not hasattr(reward_log, "reconstruct_s"):
        return dict
    mark = {"t": clock(), "calls": len(reward_log.reconstruct_s)}

    def share() -> dict[str, float]:
        now, calls = clock(), len(reward_log.reconstruct_s)
        if calls == mark["calls"] or now <= mark["t"]:
            return {}
        seconds = sum(reward_log.reconstruct_s[mark["calls"] :])
        out = {"charts/reconstruction_time_share": seconds / (now - mark["t"])}
        mark.update(t=now, calls=calls)
        return out

    return share


def _train_trl(extractor, train_apps, reward_fn, config, out, live, device) -> Stage2Result:
    import time

    from cetd_lib.tracking.live import LiveMetricsCallback, attach
    from cetd_lib.train.common import write_training_config
    from cetd_lib.train.trl_rl import (
        drop_reference_adapter,
        policy_gradient_trainer_class,
        raw_log_callback,
    )

    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []  # TRL's raw rows, kept in `Stage2Result.history`
    if not hasattr(reward_fn, "__name__"):
        reward_fn.__name__ = "reconstruction"  # TRL names reward columns after the function
    trainer = policy_gradient_trainer_class(config.algorithm)(
        model=extractor.model,
        reward_funcs=reward_fn,
        args=trl_config(config, out, device, live.report_to if live is not None else ()),
        train_dataset=rl_dataset(extractor, train_apps, config.context_level),
        processing_class=extractor.tokenizer,
        callbacks=[raw_log_callback(history)],
    )
    if live is not None:
        callback = LiveMetricsCallback(
            live,
            phase="stage2",
            samples_per_step=config.batch_size * config.num_samples,
            extra=reconstruction_share(reward_fn, time.perf_counter),
        )
        attach(trainer, callback)
    trainer.train()
    drop_reference_adapter(extractor.model)  # TRL's frozen stage-1 copy: not ours to save
    final = extractor.save(
        out / "final",
        metadata={"stage": 2, "algorithm": config.algorithm, "step": trainer.state.global_step},
    )
    args = trainer.args
    write_training_config(
        final, extractor, config, train_apps, step=trainer.state.global_step,
        optimizer={
            "name": str(getattr(args.optim, "value", args.optim)),
            "lr": args.learning_rate, "weight_decay": args.weight_decay,
        },
        schedule={
            "kind": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
            "warmup_steps": args.warmup_steps, "total_steps": trainer.state.max_steps,
        },
    )  # fmt: skip
    result = Stage2Result(final_dir=final, steps=trainer.state.global_step, history=history)
    (out / "stage2_result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result
