"""`ExtractorConfig`: every knob of both requirement extractors, with defaults and help.

Kept free of heavy imports (no torch, no transformers) so params files can be read and checked
without loading a model.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_INSTRUCTION = "Write the numbered requirements for this code."


@dataclass(frozen=True)
class ExtractorConfig:
    variant: str = field(
        default="lm",
        metadata={
            "help": "'lm': the base causal LM + a LoRA adapter, prompted with a chat template (the "
            "practical one). 'seed': the seed paper's CET_D_Phase2, a base-LM encoder + an "
            "nn.TransformerDecoder head, with its masking and label-shift bugs fixed."
        },
    )
    base_model: str = field(
        default="smollm2-135m-instruct",
        metadata={
            "help": "Base causal LM, by the name `load_base` takes ('smollm2-135m-instruct', "
            "'tiny-random', a local directory or a hub id). Checkpoints store this name, not "
            "the base weights."
        },
    )
    dtype: str = field(default="float32", metadata={"help": "Dtype the base model loads in."})
    init_seed: int = field(
        default=0,
        metadata={"help": "Seeds the initialisation of the decoder head and LoRA weights."},
    )
    max_code_tokens: int = field(
        default=1024,
        metadata={
            "help": "Token budget for the code; longer code keeps its first whole lines and "
            "ends in a visible '# ... [truncated N lines]' marker."
        },
    )
    max_target_tokens: int = field(
        default=256,
        metadata={
            "help": "Cap on requirement tokens including EOS, for training targets and (seed) "
            "the learned position table, which bounds max_new_tokens."
        },
    )
    instruction: str = field(
        default=DEFAULT_INSTRUCTION,
        metadata={"help": "User-turn instruction put before the code (lm variant)."},
    )
    generation_batch_size: int = field(
        default=8,
        metadata={"help": "Codes per generation batch (each expands to n samples)."},
    )
    # --- LoRA: the lm variant's adapter, and the seed encoder's when encoder='lora'.
    lora_r: int = field(
        default=16,
        metadata={"help": "LoRA rank r (Hu et al. 2021); 8-64 is the usual range."},
    )
    lora_alpha: int = field(
        default=32,
        metadata={"help": "LoRA alpha; the update is scaled by alpha / r (2r is common)."},
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"),
        metadata={"help": "Module names that get LoRA adapters (attention projections)."},
    )
    # --- seed variant: encoder + Transformer decoder head.
    encoder: Literal["frozen", "lora"] = field(
        default="frozen",
        metadata={
            "help": "Seed encoder training: 'frozen' (the seed; base not re-saved) or 'lora' "
            "(peft adapter on lora_target_modules, saved with the checkpoint)."
        },
    )
    decoder_layers: int = field(default=4, metadata={"help": "nn.TransformerDecoder layers."})
    decoder_heads: int = field(
        default=8,
        metadata={
            "help": "Decoder attention heads; must divide the base hidden size (SmolLM2: 576 "
            "-> 8 heads of 72)."
        },
    )
    decoder_feedforward: int = field(
        default=2048, metadata={"help": "dim_feedforward of each decoder layer."}
    )
    decoder_dropout: float = field(default=0.1, metadata={"help": "Decoder dropout."})
    decoder_embeddings: Literal["base", "own"] = field(
        default="base",
        metadata={
            "help": "Decoder token embeddings: 'base' reuses the base model's frozen input "
            "embeddings (+ learned positions), 'own' learns a fresh vocab x hidden table."
        },
    )
    tie_output_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Seed: project decoder states onto the base input embeddings (+ a learned "
            "bias) instead of a learned vocab projection (the seed's nn.Linear)."
        },
    )

    def __post_init__(self) -> None:
        positive = (
            "max_code_tokens",
            "max_target_tokens",
            "generation_batch_size",
            "lora_r",
            "decoder_layers",
            "decoder_heads",
            "decoder_feedforward",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"ExtractorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_target_tokens < 2:
            raise ValueError("ExtractorConfig.max_target_tokens must be >= 2 (a token and EOS)")
        for name in ("lora_dropout", "decoder_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"ExtractorConfig.{name} must be in [0, 1), got {value}")
        choices = {"encoder": ("frozen", "lora"), "decoder_embeddings": ("base", "own")}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"ExtractorConfig.{name} must be one of {list(allowed)}, got {value!r}"
                )
        if isinstance(self.lora_target_modules, list):  # from JSON/YAML
            object.__setattr__(self, "lora_target_modules", tuple(self.lora_target_modules))

    def lora_args(self) -> dict[str, Any]:
        """This config's LoRA as the arguments of `models.lora.with_lora`."""
        return {
            "r": self.lora_r,
            "alpha": self.lora_alpha,
            "dropout": self.lora_dropout,
            "targets": self.lora_target_modules,
        }

    def replace(self, **changes: Any) -> ExtractorConfig:
        """A copy with `changes`; an unknown key is an error naming the close matches."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=3)
                hint = f"; did you mean {close}?" if close else f"; known: {names}"
                raise ValueError(f"ExtractorConfig has no field {key!r}{hint}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExtractorConfig:
        """Inverse of `to_dict` (checkpoints); unknown keys are errors, missing ones default."""
        return cls().replace(**values)
