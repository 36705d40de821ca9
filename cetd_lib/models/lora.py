"""The one way a model of the project gets its LoRA adapter (the extractors and the multi-task
backbone alike)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def with_lora(
    model: Any,
    *,
    r: int,
    alpha: int,
    targets: Sequence[str],
    dropout: float = 0.0,
    task_type: str | None = None,
    adapter: str | Path | None = None,
    trainable_token_ids: Sequence[int] = (),
) -> Any:
    """`model` wrapped in a peft LoRA adapter on `targets`: fresh (Hu et al. 2021:
    W + (alpha / r) B A, with B = 0 so training starts at the base model) or loaded, trainable,
    from `adapter` (a saved directory; the other arguments are then the saved ones).

    Base weights are frozen; LoRA modules are injected into `model` in place.
    `trainable_token_ids`: rows of the input embedding that train too (tokens added to the
    vocabulary, e.g. the multi-task model's task tokens); the rest of the table stays frozen.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    with warnings.catch_warnings():
        # peft 0.21 calls a transformers-5 deprecated property; nothing for us to act on.
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        if adapter is not None:
            return PeftModel.from_pretrained(model, adapter, is_trainable=True)
        extra = {}
        if trainable_token_ids:
            extra["trainable_token_indices"] = {"embed_tokens": sorted(set(trainable_token_ids))}
        lora = LoraConfig(
            r=r,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=list(targets),
            task_type=task_type,
            **extra,
        )
        return get_peft_model(model, lora)
