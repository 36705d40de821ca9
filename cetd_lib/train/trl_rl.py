"""What the two TRL policy-gradient runs share: Phase-2 stage 2 and mutation RL.

Both run `RLOOTrainer` (REINFORCE with a leave-one-out baseline) or `GRPOTrainer` on a reward
function, on the CPU or a GPU, without TRL's own checkpoints or progress bars (the run record
and LiveMetrics take their place), and both keep TRL's raw log rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cetd_lib.tracking.trackers import trl_report_to


def policy_gradient_args(
    algorithm: str,
    out: Path,
    *,
    device: str,
    mixed_precision: str,
    gradient_checkpointing: bool,
    report_to: Sequence[str] = (),
    **fields: Any,
) -> Any:
    """`RLOOConfig` for 'rloo', else `GRPOConfig`, with `fields` (batch, lr, beta, ...) on top
    of the settings every run here shares. TRL's own defaults turn on bf16 everywhere and
    gradient checkpointing; here precision follows `mixed_precision` (bf16 only where native)
    and checkpointing is asked for explicitly."""
    from trl import GRPOConfig, RLOOConfig

    from cetd_lib.train.common import resolve_mixed_precision

    cls = RLOOConfig if algorithm == "rloo" else GRPOConfig
    return cls(
        output_dir=str(out / "checkpoints"),
        bf16=resolve_mixed_precision(mixed_precision, device) == "bf16",
        gradient_checkpointing=gradient_checkpointing,
        use_cpu=device == "cpu",
        report_to=trl_report_to(report_to),  # run.report_to: the same trackers as LiveMetrics
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        **fields,
    )


def policy_gradient_trainer_class(algorithm: str) -> type:
    from trl import GRPOTrainer, RLOOTrainer

    return RLOOTrainer if algorithm == "rloo" else GRPOTrainer


def raw_log_callback(history: list[dict[str, float]]) -> Any:
    """A callback appending TRL's numeric log rows (with their step) to `history`."""
    from transformers import TrainerCallback

    class RawLogs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            row = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
            if row:
                history.append({"step": state.global_step, **row})

    return RawLogs()


def drop_reference_adapter(model: Any) -> None:
    """TRL copies the starting adapter into a frozen `ref` adapter for the KL term; it is not
    part of the trained policy, so it is removed before saving or evaluating."""
    if hasattr(model, "peft_config") and "ref" in model.peft_config:
        model.delete_adapter("ref")
    if hasattr(model, "set_adapter") and "default" in getattr(model, "peft_config", {}):
        model.set_adapter("default")
