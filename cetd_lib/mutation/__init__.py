"""Mutation testing: how many plausible bugs a test suite catches.

Mutants of a module (operators over its AST), behaviour-preserving variants of it (to refuse
suites that test the source text rather than its behaviour), and the kill-rate score run
through the sandboxed harness. Used by the multi-task test-generation reward and evaluation.
"""

from cetd_lib.mutation.config import MutationConfig
from cetd_lib.mutation.mutants import (
    Mutant,
    generate_mutants,
    mutate_once,
    normalised_hash,
)
from cetd_lib.mutation.operators import OPERATORS, register_operator
from cetd_lib.mutation.score import MutationScore, mutant_timeout_s, mutation_score, mutation_scores
from cetd_lib.mutation.variants import SOURCE_COUPLED, equivalent_variants

__all__ = [
    "OPERATORS",
    "SOURCE_COUPLED",
    "Mutant",
    "MutationConfig",
    "MutationScore",
    "equivalent_variants",
    "generate_mutants",
    "mutant_timeout_s",
    "mutate_once",
    "mutation_score",
    "mutation_scores",
    "normalised_hash",
    "register_operator",
]
