"""Configs of Phase-2 training: the reward guard, stage 1 (supervised) and stage 2 (RL).

Frozen dataclasses with seed-matching defaults and a help string per field, free of heavy
imports (no torch, no transformers) so `params/*.yaml` can be checked without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cetd_lib.apps.degrade import check_extractor_level
from cetd_lib.config_field import help_field


def mixed_precision_field() -> Any:
    """The `mixed_precision` field every trainer config shares (stage 1, stage 2, mutation RL)."""
    return help_field(
        "'auto': bf16 autocast where the device has native bf16 (CUDA with bf16, CPUs with "
        "AMX), else fp32 (TRL's own default is bf16 everywhere, emulated and slow on most CPUs); "
        "'bf16' forces it; 'no' is fp32.",
        default="auto",
    )


def gradient_checkpointing_field() -> Any:
    """The `gradient_checkpointing` field every trainer config shares."""
    return help_field(
        "Recompute activations in the backward pass: less memory for more compute. Off by "
        "default (TRL turns it on; a small model on a CPU is compute-bound); the smoke params "
        "turn it on to stay under 4 GB RSS.",
        default=False,
    )


@dataclass(frozen=True)
class GuardConfig:
    """Rules a sampled requirements text must pass BEFORE it reaches the reconstructor.

    The reward is the pass rate of code rebuilt from the requirements, so the cheapest way to
    raise it is to copy the code (or the tests' expected values) into the "requirements".
    Leak rules reject: the text is never reconstructed and scores `reject_reward`. The length
    budget penalises (or rejects) specs that do not compress. Defaults keep every bundled app's
    gold requirements untouched (tested).
    """

    enabled: bool = help_field("Apply the guard at all (False only for ablations).", default=True)
    reject_reward: float = help_field(
        "Reward of a rejected text (it is never reconstructed).", default=0.0
    )
    # --- (a) compression budget
    min_items: int = help_field("Fewer parsed items than this: rejected as empty.", default=1)
    max_items: int = help_field(
        "More items than this is over budget (gold lists hold 5-20).", default=20
    )
    max_length_ratio: float = help_field(
        "Budget in characters = this x the characters of the app's code with comments and "
        "docstrings stripped (gold: at most 0.90 on the bundled apps). A spec as long as the "
        "code does not compress it.",
        default=1.0,
    )
    min_budget_chars: int = help_field(
        "Floor of the character budget, so tiny programs still get a full spec (HumanEval "
        "gold lists: up to 1299 characters).",
        default=1500,
    )
    over_budget: Literal["penalize", "reject"] = help_field(
        "'penalize': reward x budget / length (and x max_items / items); 'reject': reward = "
        "reject_reward, not reconstructed.",
        default="penalize",
    )
    # --- (b) leak detection (cetd_lib/train/guard.py; calibration in docs/training.md)
    reject_fenced_code: bool = help_field(
        "Reject texts holding a fenced block (```...```): requirements are prose.", default=True
    )
    lcs_share_floor: float = help_field(
        "Leak threshold of the LCS share (share of the stripped code's token stream found in "
        "order in the text): min(lcs_share_cap, floor + scale / sqrt(n tokens)). Pasted code, "
        "with any filler, scores 1.0.",
        default=0.3,
    )
    lcs_share_scale: float = help_field(
        "See lcs_share_floor: the chance overlap of honest prose with short programs.",
        default=3.0,
    )
    lcs_share_cap: float = help_field(
        "Upper bound of the LCS-share threshold (tiny programs): < 1 so pasted code is "
        "always rejected.",
        default=0.85,
    )
    max_code_headers: int = help_field(
        "Reject when more than this many segments (lines, ' ; ' parts, backtick spans) hold "
        "a def/class/for/if/while/with header from some word on (gold: none).",
        default=0,
    )
    max_code_statements: int = help_field(
        "Reject when more than this many segments hold an assignment or return/raise that "
        "computes something (gold: up to 2, a spec's formulas); constants are not counted.",
        default=3,
    )
    min_literal_chars: int = help_field(
        "Test literals shorter than this (repr length) are ignored: 0, 1, 'a' are everywhere.",
        default=3,
    )
    max_test_literals: int = help_field(
        "Reject when the text copies more than this many distinct literals that appear in the "
        "app's tests but not in its source or gold requirements (expected outputs).",
        default=2,
    )
    min_case_tokens: int = help_field(
        "A test assertion counts as a case when its literals give at least this many tokens "
        "(`f(2) == 1` has 2); shorter ones match prose by chance.",
        default=2,
    )
    max_test_cases: int = help_field(
        "Reject when more than this many test assertions (their literal sequence, in order, "
        "inside one item) are restated and the gold list does not state them itself.",
        default=1,
    )
    max_test_case_share: float = help_field(
        "Also reject when at least one test case is restated and they are at least this share "
        "of the app's cases (apps with one or two hidden cases); > 1 turns this off.",
        default=0.5,
    )
    # --- (c) saying one thing many times (not a leak: a list the reward over-pays)
    repeat_similarity: float = help_field(
        "Two items are the same statement when 2 x LCS / (len a + len b) of their lower-cased "
        "token sequences (prose punctuation left out) is at least this.",
        default=0.9,
    )
    max_repeated_items: int = help_field(
        "Reject (`repeated_items`) when more than this many items repeat an earlier one "
        "(issue 29: 'the signature x 10' rebuilt as well as gold for SmolLM2). Gold, every "
        "bundled and HumanEval list: at most 3 (humaneval_126's near-identical examples).",
        default=3,
    )

    def __post_init__(self) -> None:
        if not 0 < self.repeat_similarity <= 1 or self.max_repeated_items < 0:
            raise ValueError(
                "GuardConfig: need 0 < repeat_similarity <= 1 and max_repeated_items >= 0, got "
                f"{self.repeat_similarity}, {self.max_repeated_items}"
            )
        if self.min_items < 0 or self.max_items < max(1, self.min_items):
            raise ValueError(
                f"GuardConfig: need 0 <= min_items <= max_items and max_items >= 1, got "
                f"min_items={self.min_items}, max_items={self.max_items}"
            )
        if self.max_length_ratio <= 0 or self.min_budget_chars < 0:
            raise ValueError("GuardConfig: max_length_ratio must be > 0, min_budget_chars >= 0")
        if not 0.0 <= self.lcs_share_floor <= self.lcs_share_cap < 1.0 or self.lcs_share_scale < 0:
            raise ValueError(
                "GuardConfig: need 0 <= lcs_share_floor <= lcs_share_cap < 1 (at 1 pasted code "
                f"passes) and lcs_share_scale >= 0, got floor={self.lcs_share_floor}, "
                f"cap={self.lcs_share_cap}, scale={self.lcs_share_scale}"
            )
        if self.min_case_tokens < 1 or self.max_test_cases < 0:
            raise ValueError("GuardConfig: min_case_tokens >= 1 and max_test_cases >= 0")
        if self.max_test_case_share <= 0:
            raise ValueError(
                f"GuardConfig.max_test_case_share must be > 0, got {self.max_test_case_share}"
            )
        if self.over_budget not in ("penalize", "reject"):
            raise ValueError(
                f"GuardConfig.over_budget must be 'penalize' or 'reject', got {self.over_budget!r}"
            )


@dataclass(frozen=True)
class Stage1Config:
    """Stage 1: supervised fine-tuning on gold requirements (the seed's CET_D_Phase2 loop)."""

    epochs: int = help_field("Passes over the training apps (seed: 5).", default=5)
    batch_size: int = help_field("Examples per optimizer micro-batch (seed: 4).", default=4)
    grad_accumulation: int = help_field(
        "Micro-batches per optimizer step (effective batch = batch_size x this).", default=1
    )
    learning_rate: float = help_field("AdamW peak learning rate (seed: 1e-5).", default=1e-5)
    weight_decay: float = help_field("AdamW weight decay.", default=0.0)
    warmup_steps: int = help_field(
        "Linear warmup steps (seed: 200); capped at warmup_ratio_cap x total steps so tiny "
        "data still reaches the peak rate.",
        default=200,
    )
    warmup_ratio_cap: float = help_field(
        "Upper bound of warmup as a share of all steps.", default=0.1
    )
    schedule: Literal["linear", "constant"] = help_field(
        "LR after warmup: 'linear' decay to 0 (seed) or 'constant'.", default="linear"
    )
    max_grad_norm: float = help_field("Gradient clipping norm (0 = off).", default=1.0)
    mixed_precision: Literal["auto", "bf16", "no"] = mixed_precision_field()
    gradient_checkpointing: bool = gradient_checkpointing_field()
    patience: int = help_field(
        "Early stopping: epochs without a better validation BLEU before stopping (seed: 2).",
        default=2,
    )
    val_max_new_tokens: int = help_field("Generation cap for the validation BLEU.", default=256)
    context_level: int = help_field(
        "Degradation level of the code the extractor reads during training (1 = full).",
        default=1,
    )
    seed: int = help_field(
        "Seeds data order, dropout and initialisation of this stage.", default=42
    )
    trainer: Literal["auto", "trl", "loop"] = help_field(
        "'auto': TRL SFTTrainer for the lm variant, the accelerate loop for seed; 'loop' forces "
        "the accelerate loop for both.",
        default="auto",
    )
    max_steps: int = help_field(
        "Stop after this many optimizer steps (0 = no cap; smoke runs).", default=0
    )
    logging_steps: int = help_field(
        "Log the training loss every this many optimizer steps.", default=10
    )

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "grad_accumulation", "val_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"Stage1Config.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"Stage1Config.learning_rate must be > 0, got {self.learning_rate}")
        if self.warmup_steps < 0 or not 0.0 <= self.warmup_ratio_cap <= 1.0:
            raise ValueError("Stage1Config: warmup_steps >= 0 and warmup_ratio_cap in [0, 1]")
        if self.patience < 1 or self.max_steps < 0 or self.logging_steps < 1:
            raise ValueError("Stage1Config: patience >= 1, max_steps >= 0, logging_steps >= 1")
        check_extractor_level(self.context_level, "stage1.context_level")


@dataclass(frozen=True)
class Stage2Config:
    """Stage 2: RL on the guarded reconstruction reward (RLOO / GRPO / the seed's loop)."""

    algorithm: Literal["rloo", "grpo", "loop"] = help_field(
        "'rloo' (TRL RLOOTrainer, default; Ahmadian et al. 2024), 'grpo' (TRL GRPOTrainer; "
        "Shao et al. 2024), or 'loop': the hand-written loop (the only one for the seed variant).",
        default="rloo",
    )
    epochs: int = help_field("Passes over the training apps (seed: 3).", default=3)
    batch_size: int = help_field(
        "Apps per step (seed: 2); each gets num_samples samples.", default=2
    )
    num_samples: int = help_field(
        "K samples per app: the group the leave-one-out baseline is taken over (>= 2).", default=4
    )
    learning_rate: float = help_field("Peak learning rate (seed: 5e-6).", default=5e-6)
    warmup_steps: int = help_field(
        "Linear warmup steps (seed: 100), capped at warmup_ratio_cap x total steps.", default=100
    )
    warmup_ratio_cap: float = help_field(
        "Upper bound of warmup as a share of all steps.", default=0.1
    )
    max_grad_norm: float = help_field("Gradient clipping norm (0 = off).", default=1.0)
    mixed_precision: Literal["auto", "bf16", "no"] = mixed_precision_field()
    gradient_checkpointing: bool = gradient_checkpointing_field()
    baseline: Literal["leave_one_out", "constant"] | None = help_field(
        "Advantage baseline of the hand-written loop: 'leave_one_out' (mean reward of the other "
        "K-1 samples, RLOO; what null means there) or 'constant' (the seed's fixed "
        "constant_baseline). The TRL trainers have their own (RLOO: leave-one-out; GRPO: the "
        "group mean over the group std): there it must stay null, else an error.",
        default=None,
    )
    constant_baseline: float = help_field(
        "The seed's baseline when baseline='constant'.", default=0.5
    )
    ce_weight: float | None = help_field(
        "lambda of the auxiliary cross-entropy on gold requirements in the hand-written loop "
        "(keeps the text readable; null means 0.1 there). TRL's trainers have no such term: "
        "there it must stay null or 0, else an error (it used to be dropped silently).",
        default=None,
    )
    disable_dropout: bool = help_field(
        "TRL trainers: switch dropout off in the policy and the reference (TRL's "
        "`disable_dropout`). With LoRA dropout on, policy and reference log-probs of the same "
        "text differ by noise, so the KL term is non-zero at step 1 and in a group whose task "
        "reward has zero spread the advantage is -beta x that noise (issue 29). The loop "
        "scores in eval mode always.",
        default=True,
    )
    beta: float = help_field(
        "KL coefficient to the stage-1 reference (TRL trainers; 0 = no reference model). "
        "DeepSeek-R1 used 0.001; TRL's RLOO default is 0.05.",
        default=0.05,
    )
    temperature: float = help_field("Sampling temperature of the extractor.", default=1.0)
    top_p: float = help_field("Nucleus sampling mass of the extractor.", default=1.0)
    max_new_tokens: int = help_field("Cap on sampled requirement tokens.", default=256)
    context_level: int = help_field(
        "Degradation level of the code the extractor reads (1-3; 4 is refused).", default=1
    )
    seed: int = help_field("Seeds sampling and data order of this stage.", default=42)
    max_steps: int = help_field("Stop after this many steps (0 = no cap; smoke runs).", default=0)
    logging_steps: int = help_field("Log every this many steps (TRL trainers).", default=1)
    reward: Literal["pass_rate", "likelihood", "both"] = help_field(
        "'pass_rate': the guarded reconstruction pass rate (reward.py); 'likelihood': the "
        "orchestra's teacher-forced log-prob per token of the app's stripped code given the "
        "list minus given the signature-only list (likelihood.py, VR-CLI's reward with a frozen "
        "judge; needs an AnswerScorer); 'both': their sum. The guard runs first for each.",
        default="pass_rate",
    )
    likelihood_cap: Literal["gold", "none"] = help_field(
        "The likelihood reward stops at gold's own gain ('gold'): above it a list is more "
        "code-like than gold (a line-by-line paraphrase), not better. 'none' lifts the cap.",
        default="gold",
    )
    likelihood_scorer: str = help_field(
        "The judge that `reward: likelihood | both` scores with, built on the first orchestra "
        "member's backend (a name registered in reconstruction.likelihood, e.g. 'teacher_forced').",
        default="teacher_forced",
    )
    app_selection: Literal["all", "calibrated"] = help_field(
        "Stage-2 training apps: 'all' of the train split, or 'calibrated': only those where "
        "the calibration run `calibration_run_id` measured gold above signature_only "
        "(train/selection.py; zero-spread groups elsewhere teach nothing). Recorded in "
        "train_summary.json.",
        default="all",
    )
    calibration_run_id: str = help_field(
        "Run id (under run.outputs_dir/runs/) of the calibration that app_selection: "
        "calibrated reads.",
        default="",
    )
    use_vllm: bool = help_field(
        "TRL trainers on a CUDA machine: generate the policy's samples with vLLM (TRL's "
        "`use_vllm`; needs `pip install 'trl[vllm]==1.16.0'`). Off on CPU, where vLLM does "
        "not run.",
        default=False,
    )
    vllm_mode: Literal["colocate", "server"] = help_field(
        "With use_vllm: 'colocate' runs vLLM inside the training process on the same GPU; "
        "'server' talks to a separate `trl vllm-serve` process (TRL's two modes).",
        default="colocate",
    )

    def __post_init__(self) -> None:
        if self.app_selection == "calibrated" and not self.calibration_run_id:
            raise ValueError(
                "stage2.app_selection: calibrated needs stage2.calibration_run_id (the run id "
                "of a calibration notebook run)"
            )
        if self.use_vllm and self.algorithm == "loop":
            raise ValueError(
                "Stage2Config.use_vllm needs a TRL trainer (algorithm 'rloo' or 'grpo'); the "
                "hand-written 'loop' generates with the extractor itself"
            )
        if self.num_samples < 2 and self.loop_baseline == "leave_one_out":
            raise ValueError(
                "Stage2Config: the leave-one-out baseline needs num_samples >= 2 (the other "
                f"samples of the app are the baseline), got {self.num_samples}; raise "
                "num_samples or use baseline='constant'"
            )
        for name in ("epochs", "batch_size", "num_samples", "max_new_tokens", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"Stage2Config.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("Stage2Config: learning_rate > 0, temperature > 0, top_p in (0, 1]")
        if self.beta < 0 or (self.ce_weight or 0) < 0 or self.max_steps < 0:
            raise ValueError("Stage2Config: beta, ce_weight and max_steps must be >= 0")
        check_extractor_level(self.context_level, "stage2.context_level")

    @property
    def loop_baseline(self) -> str:
        """The hand-written loop's advantage baseline (null -> leave-one-out)."""
        return self.baseline or "leave_one_out"

    @property
    def loop_ce_weight(self) -> float:
        """The hand-written loop's cross-entropy weight (null -> 0.1, the seed's lambda)."""
        return 0.1 if self.ce_weight is None else self.ce_weight

    def check_trl(self) -> None:
        """Raise for options the TRL trainers would ignore: a setting that silently does
        nothing makes a run that is not the run its params say."""
        ignored = []
        if self.ce_weight:
            ignored.append(f"ce_weight={self.ce_weight} (TRL's trainers have no auxiliary CE)")
        if self.baseline is not None:
            own = "leave-one-out" if self.algorithm == "rloo" else "the group mean / std"
            ignored.append(f"baseline={self.baseline!r} (TRL {self.algorithm} uses {own})")
        if ignored:
            raise ValueError(
                f"stage2.algorithm={self.algorithm!r} runs TRL, which would ignore "
                f"{'; '.join(ignored)}: leave these null, or set stage2.algorithm: loop to use "
                "them"
            )
