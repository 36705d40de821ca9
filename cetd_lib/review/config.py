"""`ReviewConfig`: the `review:` section of a params file (blind side-by-side human review)."""

from __future__ import annotations

from dataclasses import dataclass

from cetd_lib.config_field import help_field
from cetd_lib.review.kinds import KINDS, review_kind

_DEFAULT_SOURCES = ["model", "gold"]


@dataclass(frozen=True)
class ReviewConfig:
    kind: str = help_field(
        f"What is reviewed, one of {sorted(KINDS)}: 'requirements' compares two requirement "
        "lists per app (phase2 runs); 'explanation' compares the multi-task model's explanation "
        "of a lint/security finding with the reference one (a multitask run's results.json).",
        default="requirements",
    )
    store: str = help_field(
        "SQLite file holding sessions and ratings; a relative path is under run.outputs_dir, "
        "so every notebook run of the same session shares (and resumes) it.",
        default="review/ratings.sqlite",
    )
    rater: str = help_field(
        "Who is rating: stored with every answer (e.g. initials).", default="rater"
    )
    sources: list[str] = help_field(
        "The two requirement sources compared side by side, e.g. [model, gold]; an "
        "explanation review always compares [model, reference].",
        default_factory=lambda: list(_DEFAULT_SOURCES),
    )
    source_run: str = help_field(
        "Requirements: run id whose artifacts/evaluation-<source>.json supply the sources; "
        "'latest' = the newest run holding both; '' = no run: sources come from "
        "evaluation.phase2's registry ('gold', 'phase1') or 'degraded-gold'. Falls back, loudly, "
        "to gold vs phase1. Explanation: the multitask run whose results.json holds the "
        "explanation samples; 'latest' = the newest multitask run with samples.",
        default="latest",
    )
    n_items: int = help_field("Apps sampled for review (fewer when fewer exist).", default=10)
    repeat_rate: float = help_field(
        "Share of sampled apps shown a second time (sides re-drawn) to measure "
        "self-consistency; 0.2 repeats 2 of 10.",
        default=0.2,
    )
    seed: int = help_field(
        "Seeds the sample, the item order and the blinded left/right sides.", default=0
    )
    session: str = help_field(
        "Session id grouping one sample; '' derives it from sources, source run, seed and "
        "n_items, so raters with the same params rate the same items.",
        default="",
    )

    def __post_init__(self) -> None:
        kind = review_kind(self.kind)
        fixed = list(kind.fixed_sources or [])
        if fixed and list(self.sources) not in (_DEFAULT_SOURCES, fixed):
            raise ValueError(
                f"review.sources={self.sources!r}: a {kind.name} review always compares "
                f"{fixed}; drop the review.sources override"
            )
        if len(self.sources) != 2 or self.sources[0] == self.sources[1]:
            raise ValueError(
                f"review.sources={self.sources!r}: give exactly two different sources, "
                "e.g. review.sources=[model,gold]"
            )
        if self.n_items < 1:
            raise ValueError(f"review.n_items={self.n_items}: review at least 1 item")
        if not 0.0 <= self.repeat_rate <= 1.0:
            raise ValueError(f"review.repeat_rate={self.repeat_rate}: must lie in [0, 1]")
        if not self.rater.strip():
            raise ValueError("review.rater is empty: set it, e.g. -p review.rater=ab")
