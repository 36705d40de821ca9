"""`MutationRLConfig`: RL of a test writer on the mutation kill rate (issue mt-rl).

Free of heavy imports (no torch, no transformers) so `params/*.yaml` can be checked without
loading a model. The mutation engine's own knobs are the nested `mutation: MutationConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cetd_lib.config_field import help_field
from cetd_lib.mutation.config import MutationConfig
from cetd_lib.train.config import gradient_checkpointing_field, mixed_precision_field


@dataclass(frozen=True)
class MutationRLConfig:
    """A policy writes a pytest file for a module; the reward is the file's mutation kill rate.

    `algorithm: rloo` is REINFORCE with the leave-one-out baseline (Ahmadian et al. 2024);
    `algorithm: grpo` with `num_iterations > 1`, `epsilon` and `beta > 0` is the PPO-style
    clipped surrogate with an importance ratio to the sampling policy and a KL penalty to the
    reference (Shao et al. 2024; docs/mutation_rl.md says how it maps to PPO).
    """

    base_model: str = help_field(
        "Policy base model, by the name `load_base` takes ('tiny-random' for tests, "
        "'smollm2-135m-instruct' on CPU, a local directory or hub id).",
        default="smollm2-135m-instruct",
    )
    algorithm: Literal["rloo", "grpo"] = help_field(
        "'rloo': TRL RLOOTrainer (REINFORCE + leave-one-out baseline); 'grpo': TRL GRPOTrainer "
        "(clipped surrogate, the PPO stand-in).",
        default="grpo",
    )
    train_apps: tuple[str, ...] = help_field(
        "App ids whose modules the policy trains on (empty = every bundled app not held out, "
        "capped at max_train_targets).",
        default=(),
    )
    heldout_apps: tuple[str, ...] = help_field(
        "App ids for the before/after mutation score (never trained on; empty = the seeded "
        "heldout_fraction of the bundled apps, capped at max_heldout_targets).",
        default=(),
    )
    heldout_fraction: float = help_field(
        "Share of bundled apps held out when heldout_apps is empty (split by seeded hash).",
        default=0.25,
    )
    max_train_targets: int = help_field("Cap on training modules (CPU budget).", default=8)
    max_heldout_targets: int = help_field("Cap on held-out modules (CPU budget).", default=4)
    max_source_chars: int = help_field(
        "Modules longer than this are not used (they would not fit the prompt).", default=4000
    )
    num_generations: int = help_field(
        "Test files sampled per module per step: the RLOO/GRPO group (>= 2).", default=4
    )
    batch_modules: int = help_field(
        "Modules per step (each gets num_generations samples).", default=1
    )
    num_iterations: int = help_field(
        "Optimisation passes over each generated batch (PPO's epochs, mu in GRPO). > 1 makes "
        "the importance ratio to the sampling policy and the clipping bite; 1 = on-policy.",
        default=2,
    )
    epsilon: float = help_field(
        "Clipping range of the ratio, [1 - epsilon, 1 + epsilon] (PPO, Schulman et al. 2017: "
        "0.2; TRL default 0.2).",
        default=0.2,
    )
    beta: float = help_field(
        "KL coefficient to the reference policy (the LoRA-free base). DeepSeek-R1 used 0.001, "
        "TRL's RLOO default is 0.05; > 0 so the test writer stays near fluent Python.",
        default=0.04,
    )
    disable_dropout: bool = help_field(
        "Switch dropout off in the policy and the reference (TRL's `disable_dropout`): with "
        "LoRA dropout on, their log-probs of the same text differ by noise, so the KL term is "
        "non-zero at step 1 and a group with equal kill rates still moves (issue 29).",
        default=True,
    )
    learning_rate: float = help_field("Peak learning rate of the LoRA weights.", default=1e-5)
    lora_r: int = help_field("LoRA rank.", default=16)
    lora_alpha: int = help_field("LoRA alpha (scale = alpha / r).", default=32)
    lora_target_modules: tuple[str, ...] = help_field(
        "Modules given LoRA adapters.", default=("q_proj", "k_proj", "v_proj", "o_proj")
    )
    temperature: float = help_field("Sampling temperature during training.", default=1.0)
    top_p: float = help_field("Nucleus sampling mass during training.", default=1.0)
    max_new_tokens: int = help_field("Cap on a generated test file's tokens.", default=256)
    eval_max_new_tokens: int = help_field(
        "Cap on tokens of the greedy test file written for each held-out module.", default=384
    )
    max_steps: int = help_field("Optimizer steps of the RL run.", default=20)
    logging_steps: int = help_field("Log every this many steps.", default=1)
    improvement_target: float = help_field(
        "Seed target: relative improvement of the held-out mutation score above this "
        "((after - before) / before; with before = 0, any gain counts).",
        default=0.10,
    )
    mixed_precision: Literal["auto", "bf16", "no"] = mixed_precision_field()
    gradient_checkpointing: bool = gradient_checkpointing_field()
    seed: int = help_field("Seeds sampling, data order and the LoRA initialisation.", default=42)
    mutation: MutationConfig = help_field(
        "The mutation engine (operators, mutant sample, timeouts).",
        default_factory=MutationConfig,
    )

    def __post_init__(self) -> None:
        if self.algorithm not in ("rloo", "grpo"):
            raise ValueError(
                f"MutationRLConfig.algorithm must be 'rloo' or 'grpo', got {self.algorithm!r}"
            )
        if self.num_generations < 2:
            raise ValueError(
                "MutationRLConfig: RLOO and GRPO need at least 2 generations per module (the "
                f"group is the baseline), got num_generations={self.num_generations}"
            )
        for name in (
            "batch_modules", "num_iterations", "max_new_tokens", "eval_max_new_tokens",
            "max_steps", "logging_steps", "lora_r", "max_train_targets", "max_heldout_targets",
        ):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"MutationRLConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.epsilon < 1.0:
            raise ValueError(f"MutationRLConfig.epsilon must be in (0, 1), got {self.epsilon}")
        if self.beta < 0 or self.learning_rate <= 0 or self.temperature <= 0:
            raise ValueError("MutationRLConfig: beta >= 0, learning_rate > 0, temperature > 0")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ValueError(
                f"MutationRLConfig.heldout_fraction must be in (0, 1), got {self.heldout_fraction}"
            )
        overlap = set(self.train_apps) & set(self.heldout_apps)
        if overlap:
            raise ValueError(
                f"MutationRLConfig: apps {sorted(overlap)} are both in train_apps and "
                "heldout_apps; held-out modules must never be trained on"
            )
