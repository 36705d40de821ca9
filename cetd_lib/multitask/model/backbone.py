"""The multi-task model: one LoRA-adapted causal LM (the shared backbone) + classification heads.

Heads read the attention-masked mean of the last hidden states:
- quality: multi-label over ruff checks, BCE with an inverse-frequency `pos_weight` per check
  (neg/pos counts of the train split, from the datasheet vocabulary, capped);
- security: multi-label over bandit ids, BCE whose positive terms are weighted by the finding's
  severity (labels.SEVERITY_WEIGHT), so a missed HIGH costs more than a missed LOW;
- clarification: binary (is the description ambiguous?).
Generation tasks go through the LM with task tokens (cetd_lib.multitask.model.objectives).

The base weights stay frozen: LoRA trains the attention projections, peft's
`trainable_token_indices` trains only the embedding rows of the added sentinel/task tokens
(tied with lm_head in SmolLM2), the heads and the uncertainty log-variances train in full.

Checkpoint layout (`save` / `load`): `adapter/` (peft), `heads.safetensors`,
`multitask_config.json` (base model, label vocabularies, token ids, training state), and the
tokenizer (with the added tokens).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cetd_lib.models.lora import with_lora
from cetd_lib.multitask.model.curriculum import PHASE_TASKS
from cetd_lib.multitask.model.objectives import add_task_tokens

ADAPTER_DIR = "adapter"
HEADS_FILE = "heads.safetensors"
CONFIG_FILE = "multitask_config.json"

#: Tasks whose losses the joint phase balances (one learnable log-variance each).
TASKS = PHASE_TASKS["joint"]


@dataclass(frozen=True)
class HeadSpec:
    """Label vocabularies of the heads, with the quality pos_weight per label."""

    quality_labels: tuple[str, ...]
    security_labels: tuple[str, ...]
    quality_pos_weight: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.quality_pos_weight and len(self.quality_pos_weight) != len(self.quality_labels):
            raise ValueError(
                f"quality_pos_weight has {len(self.quality_pos_weight)} values for "
                f"{len(self.quality_labels)} labels"
            )

    @classmethod
    def from_vocabularies(
        cls, quality: dict[str, Any], security: dict[str, Any], max_pos_weight: float
    ) -> HeadSpec:
        """From `quality_labels.json` / `security_labels.json` of a data build."""
        labels = tuple(quality["labels"])
        weights = tuple(min(float(quality["pos_weight"][x]), max_pos_weight) for x in labels)
        return cls(labels, tuple(security["labels"]), weights)


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself (nanoGPT keeps model args, step and best loss)."""

    base_model: str
    heads: HeadSpec
    lora: dict[str, Any]
    special_token_ids: list[int]
    state: dict[str, Any] = field(default_factory=dict)


class MultitaskModel(nn.Module):
    """Shared backbone (`self.lm`, a peft model) + heads + Kendall log-variances."""

    def __init__(self, lm: Any, tokenizer: Any, info: CheckpointInfo) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.info = info
        hidden = lm.get_base_model().config.hidden_size
        spec = info.heads
        self.heads = nn.ModuleDict(
            {
                "quality": nn.Linear(hidden, max(1, len(spec.quality_labels))),
                "security": nn.Linear(hidden, max(1, len(spec.security_labels))),
                "clarification": nn.Linear(hidden, 1),
            }
        )
        # log sigma^2 per task (Kendall, Gal & Cipolla 2018); 0 = weight 1 at the start.
        self.log_vars = nn.Parameter(torch.zeros(len(TASKS)))
        weights = spec.quality_pos_weight or (1.0,) * max(1, len(spec.quality_labels))
        self.register_buffer("quality_pos_weight", torch.tensor(weights, dtype=torch.float32))

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        base_model: str,
        heads: HeadSpec,
        *,
        lora_r: int = 16,
        lora_alpha: int = 32,
        lora_targets: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
        seed: int = 0,
        base: tuple[Any, Any] | None = None,
    ) -> MultitaskModel:
        """Load the base (or take `base=(model, tokenizer)`), add the task tokens, wrap it in
        LoRA and initialise the heads from `seed`."""
        from cetd_lib.models import load_base

        model, tokenizer = base if base is not None else load_base(base_model)
        token_ids = add_task_tokens(tokenizer, model)
        lora = {"r": lora_r, "alpha": lora_alpha, "targets": list(lora_targets)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            lm = with_lora(
                model,
                r=lora_r,
                alpha=lora_alpha,
                targets=lora_targets,
                task_type="CAUSAL_LM",
                trainable_token_ids=token_ids,
            )
            info = CheckpointInfo(base_model, heads, lora, token_ids)
            return cls(lm, tokenizer, info)

    @property
    def device(self) -> torch.device:
        return self.log_vars.device

    # --- forward --------------------------------------------------------------------------
    def lm_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean token loss over labels != -100, logits)."""
        out = self.lm(
            input_ids=batch["input_ids"].to(self.device),
            attention_mask=batch["attention_mask"].to(self.device),
            labels=batch["labels"].to(self.device),
        )
        return out.loss, out.logits

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over real tokens (padding excluded)."""
        decoder = self.lm.get_base_model().base_model  # e.g. LlamaModel, LoRA layers inside
        hidden = decoder(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
        ).last_hidden_state
        mask = attention_mask.to(self.device).unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def head_logits(
        self, head: str, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        logits = self.heads[head](self.pooled(input_ids, attention_mask))
        return logits.squeeze(-1) if head == "clarification" else logits

    def head_loss(self, head: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.head_logits(head, batch["input_ids"], batch["attention_mask"])
        target = batch["targets"].to(self.device).float().view_as(logits)
        if head == "quality":
            return quality_loss(logits, target, self.quality_pos_weight)
        if head == "security":
            return security_loss(logits, target, batch["severity"].to(self.device).float())
        return F.binary_cross_entropy_with_logits(logits, target)

    # --- checkpoints ----------------------------------------------------------------------
    def save(self, directory: str | Path, state: dict[str, Any] | None = None) -> Path:
        """Adapter + heads + config + tokenizer into `directory` (created)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(directory / ADAPTER_DIR)
        tensors = {
            f"heads.{k}": v.detach().cpu().contiguous() for k, v in self.heads.state_dict().items()
        }
        tensors["log_vars"] = self.log_vars.detach().cpu().contiguous()
        save_file(tensors, directory / HEADS_FILE)
        self.tokenizer.save_pretrained(directory / "tokenizer")
        info = asdict(self.info)
        info["state"] = {**self.info.state, **(state or {})}
        (directory / CONFIG_FILE).write_text(json.dumps(info, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, base: Any = None) -> MultitaskModel:
        """Rebuild from `save`: base weights by name (or `base`, a fresh model for tests),
        embeddings resized to the saved tokenizer, then adapter and heads."""
        from peft import PeftModel
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        from cetd_lib.models import load_base

        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if not config_path.exists():
            raise FileNotFoundError(
                f"{config_path}: not a multi-task checkpoint (no {CONFIG_FILE})"
            )
        raw = json.loads(config_path.read_text())
        raw["heads"] = HeadSpec(
            tuple(raw["heads"]["quality_labels"]),
            tuple(raw["heads"]["security_labels"]),
            tuple(raw["heads"]["quality_pos_weight"]),
        )
        info = CheckpointInfo(**raw)
        model = base if base is not None else load_base(info.base_model)[0]
        tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        lm = PeftModel.from_pretrained(model, directory / ADAPTER_DIR, is_trainable=True)
        out = cls(lm, tokenizer, info)
        tensors = load_file(directory / HEADS_FILE)
        out.heads.load_state_dict(
            {k.removeprefix("heads."): v for k, v in tensors.items() if k.startswith("heads.")}
        )
        with torch.no_grad():
            out.log_vars.copy_(tensors["log_vars"])
        return out.eval()


# ---------------------------------------------------------------------------------------------
# Head losses (pure)
# ---------------------------------------------------------------------------------------------


def quality_loss(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor
) -> torch.Tensor:
    """BCE per check with pos_weight = neg/pos train counts (inverse frequency), averaged."""
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


def security_loss(
    logits: torch.Tensor, target: torch.Tensor, severity: torch.Tensor
) -> torch.Tensor:
    """BCE per bandit id; a positive's term is weighted by its severity (>= 1), negatives by 1."""
    weight = torch.where(target > 0, severity.clamp(min=1.0), torch.ones_like(severity))
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight)


def uncertainty_weighted(losses: dict[str, torch.Tensor], log_vars: torch.Tensor,
                         boost: dict[str, float] | None = None) -> torch.Tensor:  # fmt: skip
    """Kendall et al. 2018 (eq. 7, in the log-variance form s = log sigma^2):
    sum_i boost_i * exp(-s_i) * L_i + s_i. `boost` is the degrade re-weighting (default 1)."""
    total = log_vars.new_zeros(())
    for task, loss in losses.items():
        s = log_vars[TASKS.index(task)]
        total = total + (boost or {}).get(task, 1.0) * torch.exp(-s) * loss + s
    return total
