"""What every trainer of the project shares: stage 1 (both engines), stage 2 (the RLOO loop
of rloo_loop.py and the TRL RL trainers) and the mutation RL.

The LR schedule with its capped warmup, the choice of mixed precision and the
`training_config.json` written beside each checkpoint live here, not in one stage, so the stages
agree on them without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cetd_lib.apps.app import App

if TYPE_CHECKING:
    from cetd_lib.models.extractor import RequirementExtractor


def warmup_steps_for(config: Any, total_steps: int) -> int:
    """min(warmup_steps, warmup_ratio_cap x total): the seed's 200 warmup steps would never
    end on a smoke run of 10 steps."""
    return min(config.warmup_steps, int(config.warmup_ratio_cap * total_steps))


def linear_schedule(warmup: int, total: int, kind: str = "linear") -> Callable[[int], float]:
    """LR multiplier: (s + 1) / warmup during warmup, then linear decay to 0 at `total` (or
    constant). The +1 makes the very first step train (HF's schedule gives it LR 0)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


@torch.no_grad()
def write_training_config(
    directory: str | Path,
    extractor: RequirementExtractor,
    config: Any,
    apps: Sequence[App],
    *,
    optimizer: dict[str, Any],
    schedule: dict[str, Any],
    step: int,
    val_apps: Sequence[App] = (),
) -> Path:
    """`<directory>/training_config.json` (tracking.training_config) beside a checkpoint: the
    extractor config, optimizer, schedule, app id -> `App.content_hash()` of the training (and
    validation) apps, the seed and the current RNG states; the whole stage config in `extra`."""
    from cetd_lib.tracking.training_config import save_training_config

    data = {app.app_id: app.content_hash() for app in [*apps, *val_apps]}
    extra = {
        "stage_config": asdict(config),
        "train_apps": [app.app_id for app in apps],
        "val_apps": [app.app_id for app in val_apps],
    }
    return save_training_config(
        directory, extractor.config.to_dict(), optimizer, schedule, data, config.seed,
        step=step, extra=extra,
    )  # fmt: skip


def cpu_has_native_bf16() -> bool:
    """AMX tiles: bf16 matmuls in hardware (measured 1.5x fp32 training on SmolLM2 here)."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def resolve_mixed_precision(setting: str, device: str) -> str:
    """'bf16' where autocast in bf16 is supported and asked for, else 'no' (fp32).

    'auto' picks bf16 on CUDA with bf16 and on CPUs with AMX; elsewhere CPU bf16 is
    emulated and slower than fp32, so 'auto' stays in fp32 there.
    """
    if setting == "no":
        return "no"
    cuda_bf16 = device.startswith("cuda") and torch.cuda.is_available()
    cuda_bf16 = cuda_bf16 and torch.cuda.is_bf16_supported()
    if setting == "bf16" and not cuda_bf16 and device != "cpu":
        raise ValueError(f"mixed_precision 'bf16' is not supported on {device!r}; use 'auto'")
    if setting == "bf16" or cuda_bf16:
        return "bf16"
    return "bf16" if device == "cpu" and cpu_has_native_bf16() else "no"
