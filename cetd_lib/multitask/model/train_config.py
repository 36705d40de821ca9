"""`MultitaskTrainConfig`: the shared-backbone multi-task model, its curriculum and evaluation
(params/*.yaml, section `multitask_train`). Defaults are the seed's full settings; smoke and
tiny params shrink them.

Free of heavy imports (no torch) so params files can be checked without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from cetd_lib.config_field import help_field


@dataclass(frozen=True)
class MultitaskTrainConfig:
    """Backbone + LoRA + heads, trained code-only -> simple ontology -> multi-hop -> joint."""

    base_model: str = help_field(
        "Backbone by the name `load_base` takes ('tiny-random' for tests, "
        "'smollm2-135m-instruct' on CPU, a local directory or hub id).",
        default="smollm2-135m-instruct",
    )
    data_run_id: str = help_field(
        "Run id (under outputs/runs/) of a `multitask.data build`; empty = build the sets into "
        "this run's record first (params section multitask_data).",
        default="",
    )
    seed: int = help_field("Seeds sampling of examples, masks, FIM cuts and generation.", default=0)
    # -- backbone ----------------------------------------------------------------------------
    lora_r: int = help_field("LoRA rank.", default=16)
    lora_alpha: int = help_field("LoRA alpha (scale = alpha / r).", default=32)
    lora_target_modules: tuple[str, ...] = help_field(
        "Linear layers that get LoRA adapters.", default=("q_proj", "k_proj", "v_proj", "o_proj")
    )
    max_seq_len: int = help_field("Token budget of one example (prompt + target).", default=1024)
    batch_size: int = help_field("Examples per optimiser step (one task per batch).", default=4)
    learning_rate: float = help_field(
        "AdamW learning rate of LoRA and new token rows.", default=1e-4
    )
    head_learning_rate: float = help_field(
        "AdamW learning rate of the heads and the uncertainty log-variances.", default=1e-3
    )
    # -- objectives --------------------------------------------------------------------------
    mask_rate: float = help_field(
        "Share of code tokens masked by the span objective.", default=0.15
    )
    mask_span_min: int = help_field("Shortest masked span, in tokens.", default=1)
    mask_span_max: int = help_field("Longest masked span, in tokens.", default=5)
    fim_rate: float = help_field(
        "Share of code examples that are FIM (PSM order); the rest are span-masked (seed: 0.5).",
        default=0.5,
    )
    max_pos_weight: float = help_field(
        "Cap on the inverse-frequency BCE pos_weight of a quality label (rare labels reach "
        "hundreds, which makes the loss dominated by a handful of examples).",
        default=50.0,
    )
    ontology_paths_in_prompt: int = help_field(
        "Ontology relation paths put in front of a code chunk (those naming its symbols first).",
        default=8,
    )
    rule_doc_max_chars: int = help_field(
        "Characters of a rule's documentation given as retrieved context to explanations.",
        default=600,
    )
    # -- curriculum --------------------------------------------------------------------------
    max_train_examples: int | None = help_field(
        "Examples per task per epoch (seeded sample); None = the whole train split.", default=None
    )
    max_val_examples: int | None = help_field(
        "Examples per task for val losses (fixed seeded sample); None = the whole val split.",
        default=None,
    )
    code_epochs: int = help_field("Max epochs of the code-only phase.", default=10)
    simple_ontology_epochs: int = help_field("Max epochs of the simple-ontology phase.", default=5)
    multi_hop_epochs: int = help_field("Max epochs of the multi-hop-ontology phase.", default=5)
    joint_epochs: int = help_field("Max epochs of the all-heads phase.", default=20)
    code_val_loss_gate: float = help_field(
        "Code-only phase ends when the code val loss drops below this (seed: 3.5).", default=3.5
    )
    ontology_utilization_gate: float = help_field(
        "Simple-ontology phase ends when ontology utilization exceeds this (seed: 0.8); see "
        "docs/multitask_train.md for the operational definition.",
        default=0.8,
    )
    multi_hop_pass_gain_gate: float = help_field(
        "Multi-hop phase ends when HumanEval pass@1 exceeds the code-only pass@1 by this "
        "(absolute; seed: +5%).",
        default=0.05,
    )
    plateau_patience: int = help_field(
        "Joint phase stops after this many epochs without a val-loss improvement (seed: 5).",
        default=5,
    )
    plateau_min_delta: float = help_field(
        "Smallest val-loss drop that counts as progress.", default=0.0
    )
    degrade_boost: float = help_field(
        "When a task's val loss rises epoch over epoch, its loss weight is multiplied by this.",
        default=1.5,
    )
    max_task_boost: float = help_field("Cap on a task's accumulated degrade boost.", default=4.0)
    export_dir: str = help_field(
        "Where the best checkpoint goes, relative to run.outputs_dir (a previous export is "
        "kept, renamed with its timestamp).",
        default="models/final",
    )
    # -- evaluation --------------------------------------------------------------------------
    humaneval_problems: int | None = help_field(
        "HumanEval problems of the held-out (test) split evaluated; None = all of them.",
        default=None,
    )
    humaneval_prompt: str = help_field(
        "'chat': the HumanEval prompt in a chat turn, the answer's fenced function is run (for "
        "instruct backbones like SmolLM2-Instruct); 'raw': plain completion of the prompt (for "
        "base code LMs).",
        default="chat",
    )
    humaneval_samples: int = help_field(
        "Samples per problem for the final pass@1/pass@10 (n >= 10 for pass@10).", default=10
    )
    gate_samples: int = help_field("Samples per problem for the pass@1 gate checks.", default=2)
    temperature: float = help_field(
        "Sampling temperature of pass@k samples (Codex: 0.8).", default=0.8
    )
    top_p: float = help_field("Nucleus sampling of pass@k samples (Codex: 0.95).", default=0.95)
    max_new_tokens: int = help_field("Generation cap for HumanEval and test files.", default=256)
    text_max_new_tokens: int = help_field(
        "Generation cap for questions, explanations and ontology probes.", default=128
    )
    eval_max_examples: int | None = help_field(
        "Held-out examples per generation task (tests, explanations, clarification questions, "
        "ontology probes); None = all.",
        default=None,
    )
    mutation_max_mutants: int = help_field(
        "Mutants per module when scoring passing generated test files.", default=20
    )
    threshold: float = help_field(
        "Sigmoid threshold of the multi-label and binary heads.", default=0.5
    )
    underperforming_below: float = help_field(
        "Error analysis flags a task, label or CWE whose metric (pass@1, F1) is below this.",
        default=0.5,
    )
    # -- seed targets ------------------------------------------------------------------------
    pass_at_1_target: float = help_field("Seed target: HumanEval pass@1 above this.", default=0.7)
    quality_f1_target: float = help_field("Seed target: quality macro F1 above this.", default=0.6)
    security_f1_target: float = help_field(
        "Seed target: security macro F1 above this.", default=0.5
    )
    test_pass_target: float = help_field(
        "Seed target: generated-test pass@1 above this.", default=0.6
    )
    delta_pass_target: float = help_field(
        "Seed target: Δpass@1 over code-only above this.", default=0.05
    )
    explanation_rating_target: float = help_field(
        "Seed target: mean human rating (1-5) of explanations above this.", default=3.5
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_rate < 0.5:
            raise ValueError(f"mask_rate={self.mask_rate} must be in (0, 0.5); the seed uses 0.15")
        if not 1 <= self.mask_span_min <= self.mask_span_max:
            raise ValueError(
                f"need 1 <= mask_span_min <= mask_span_max, got {self.mask_span_min}, "
                f"{self.mask_span_max}"
            )
        if not 0.0 <= self.fim_rate <= 1.0:
            raise ValueError(f"fim_rate={self.fim_rate} must be in [0, 1]")
        if self.max_seq_len < 32:
            raise ValueError(f"max_seq_len={self.max_seq_len} is too small; use >= 32")
        for name in ("code_epochs", "simple_ontology_epochs", "multi_hop_epochs", "joint_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (every phase runs at least one epoch)")
        if self.humaneval_samples < 1 or self.gate_samples < 1:
            raise ValueError("humaneval_samples and gate_samples must be >= 1")
        if self.humaneval_prompt not in ("chat", "raw"):
            raise ValueError(f"humaneval_prompt={self.humaneval_prompt!r}: use 'chat' or 'raw'")
        if self.plateau_patience < 1:
            raise ValueError("plateau_patience must be >= 1")

    @property
    def phase_epochs(self) -> dict[str, int]:
        return {
            "code": self.code_epochs,
            "simple_ontology": self.simple_ontology_epochs,
            "multi_hop_ontology": self.multi_hop_epochs,
            "joint": self.joint_epochs,
        }
