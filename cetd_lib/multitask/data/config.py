"""`MultitaskDataConfig`: every tunable of the Phase-5 multi-task data build (params/*.yaml,
section `multitask_data`)."""

from __future__ import annotations

from dataclasses import dataclass

from cetd_lib.config_field import help_field
from cetd_lib.langpack.python import DEFAULT_RUFF_SELECT


@dataclass(frozen=True)
class MultitaskDataConfig:
    """Tunables of `python -m cetd_lib multitask-data build`; defaults are the smoke scale."""

    version: str = help_field(
        "Dataset version written into the datasheet; bump when the recipe changes.",
        default="mt-data-1",
    )
    language: str = help_field("Language pack (cetd_lib.langpack registry).", default="python")
    seed: int = help_field("Seed of every sampling and generator draw in the build.", default=0)
    # -- corpus ---------------------------------------------------------------------------
    include_apps: bool = help_field("Add the bundled apps (src and tests).", default=True)
    include_humaneval: bool = help_field("Add the 164 HumanEval solutions and tests.", default=True)
    include_stdlib: bool = help_field("Add Python standard-library sources.", default=True)
    stdlib_dir: str | None = help_field(
        "Standard-library root; None = sysconfig.get_paths()['stdlib'].", default=None
    )
    stdlib_max_files: int | None = help_field(
        "Seeded sample of stdlib files (200 smoke, thousands full); None = all.", default=200
    )
    stdlib_exclude_dirs: list[str] = help_field(
        "Directory names skipped in the stdlib walk (test suites hold deliberately broken code).",
        default_factory=lambda: [
            "site-packages",
            "dist-packages",
            "test",
            "tests",
            "idle_test",
            "__pycache__",
        ],
    )
    max_file_chars: int = help_field(
        "Files longer than this are skipped (counted and listed in the datasheet).",
        default=200_000,
    )
    chunk_max_chars: int = help_field(
        "Chunk budget in characters (~4 characters per token for code); chunks end at "
        "top-level def/class boundaries, big classes split between methods.",
        default=4000,
    )
    chunk_min_chars: int = help_field("Chunks shorter than this are dropped (counted).", default=40)
    near_dup_threshold: float = help_field(
        "Estimated Jaccard similarity of token shingles at or above which a chunk is a near "
        "duplicate of an earlier one (the Codex/CodeParrot dedup used ~0.85).",
        default=0.85,
    )
    shingle_size: int = help_field("Tokens per shingle for near-dup detection.", default=5)
    minhash_permutations: int = help_field(
        "MinHash signature length; must be divisible by minhash_bands.", default=128
    )
    minhash_bands: int = help_field(
        "LSH bands over the signature (candidate pairs share one band).", default=32
    )
    # -- splits ---------------------------------------------------------------------------
    train_fraction: float = help_field("Share of source groups hashed into train.", default=0.8)
    val_fraction: float = help_field("Share of source groups hashed into val.", default=0.1)
    test_fraction: float = help_field("Share of source groups hashed into test.", default=0.1)
    split_seed: int = help_field(
        "Salt of the group hash (apps use their app id, so with the same seed and fractions "
        "an app lands where cetd_lib.apps.splits puts it).",
        default=0,
    )
    # -- quality labels -------------------------------------------------------------------
    ruff_select: list[str] = help_field(
        "ruff rule families (`--select`); ['ALL'] for every rule.",
        default_factory=lambda: list(DEFAULT_RUFF_SELECT),
    )
    quality_min_count: int = help_field(
        "A ruff check becomes a label when it fires in at least this many train chunks.",
        default=5,
    )
    negatives_per_positive: float = help_field(
        "Balanced sampling: clean chunks kept per chunk with a label (per split).", default=1.0
    )
    # -- security labels ------------------------------------------------------------------
    security_min_count: int = help_field(
        "A bandit test id becomes a label when it fires in at least this many train items.",
        default=2,
    )
    security_variants_per_kind: int = help_field(
        "Generated vulnerable/safe pairs per vulnerability template.", default=6
    )
    # -- code <-> test pairs --------------------------------------------------------------
    property_max_sources: int | None = help_field(
        "Modules for which hypothesis property tests are generated and validated in the "
        "sandbox (one runner job each); None = all suitable.",
        default=16,
    )
    property_max_examples: int = help_field(
        "hypothesis max_examples per generated test.", default=25
    )
    property_timeout_s: float = help_field("Runner budget per property-test job.", default=60.0)
    parametrized_max_problems: int | None = help_field(
        "HumanEval problems whose simple asserts are folded into one pytest.mark.parametrize "
        "test and validated in the sandbox (one runner job each; all ~150 take a few "
        "seconds); None = all suitable.",
        default=None,
    )
    # -- clarification / explanation / ontology -------------------------------------------
    clarifications_per_app: int = help_field(
        "Ambiguous variants per app (each removes or blurs one test-relevant fact).", default=2
    )
    explanations_per_rule: int = help_field(
        "Explanation examples per (tool, rule) at most, so frequent rules do not dominate.",
        default=5,
    )
    explanation_context_lines: int = help_field(
        "Lines of code shown on each side of a finding.", default=3
    )
    ontology_max_hops: int = help_field(
        "Longest relation path serialised (1 = one-hop).", default=2
    )
    ontology_max_paths: int = help_field("Paths kept per file (seeded sample).", default=40)

    def __post_init__(self) -> None:
        fractions = (self.train_fraction, self.val_fraction, self.test_fraction)
        if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(
                f"split fractions {fractions} must be non-negative and sum to 1.0; "
                "adjust multitask_data.train_fraction/val_fraction/test_fraction"
            )
        if self.minhash_permutations % self.minhash_bands:
            raise ValueError(
                f"minhash_permutations={self.minhash_permutations} is not divisible by "
                f"minhash_bands={self.minhash_bands}; pick e.g. 128 and 32"
            )
        if not 0.0 < self.near_dup_threshold <= 1.0:
            raise ValueError(f"near_dup_threshold={self.near_dup_threshold} must be in (0, 1]")
        if self.chunk_max_chars <= self.chunk_min_chars:
            raise ValueError(
                f"chunk_max_chars={self.chunk_max_chars} must exceed "
                f"chunk_min_chars={self.chunk_min_chars}"
            )
        if self.ontology_max_hops < 1:
            raise ValueError("ontology_max_hops must be >= 1 (1 = one-hop relations only)")
        if self.negatives_per_positive < 0:
            raise ValueError("negatives_per_positive must be >= 0")
