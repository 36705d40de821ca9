"""Settings of the mutation engine (operators, sample size, variants, time budget)."""

from __future__ import annotations

from dataclasses import dataclass

from cetd_lib.config_field import help_field
from cetd_lib.mutation.operators import OPERATORS

# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationConfig:
    """Which mutants to make and how long a mutant's tests may run."""

    operators: tuple[str, ...] = help_field(
        "Mutation operators to apply (names in cetd_lib.mutation.operators.OPERATORS).",
        default=(
            "arithmetic",
            "comparison",
            "boolean",
            "constant",
            "return_value",
            "condition",
            "statement_deletion",
        ),
    )
    max_mutants: int = help_field(
        "Keep at most this many mutants per module, a seeded sample (0 = all; a 140-line module "
        "has ~150). The same sample is used for every test file of a module, so rewards are "
        "comparable across RL steps and mutant runs hit the harness cache.",
        default=30,
    )
    seed: int = help_field("Seeds the mutant sample.", default=0)
    timeout_factor: float = help_field(
        "A mutant's wall-clock budget = max(min_timeout_s, this x the original run's duration), "
        "rounded up to whole seconds (stable budgets keep the harness cache keys stable).",
        default=5.0,
    )
    min_timeout_s: float = help_field("Floor of a mutant's wall-clock budget.", default=1.0)
    equivalent_variants: int = help_field(
        "k behaviour-preserving variants of the module a suite must also pass to earn its kill "
        "rate (0 = off: a test of the source text then kills every mutant for free).",
        default=3,
    )

    def __post_init__(self) -> None:
        unknown = [name for name in self.operators if name not in OPERATORS]
        if unknown:
            raise ValueError(
                f"MutationConfig.operators: unknown operator(s) {unknown}; known: {list(OPERATORS)}"
            )
        if self.max_mutants < 0:
            raise ValueError(f"MutationConfig.max_mutants must be >= 0, got {self.max_mutants}")
        if self.timeout_factor <= 0 or self.min_timeout_s <= 0:
            raise ValueError("MutationConfig: timeout_factor and min_timeout_s must be > 0")
        if self.equivalent_variants < 0:
            raise ValueError(
                f"MutationConfig.equivalent_variants must be >= 0, got {self.equivalent_variants}"
            )
