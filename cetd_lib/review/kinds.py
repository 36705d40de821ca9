"""Kinds of review: what the two sides are, the rubric, and the words the form uses.

A kind is registered by name; a session stores its kind, and everything that checks, shows or
summarises an answer (store, session, text form, widget, summary) takes the rubric from it.
Add a kind by adding a `ReviewKind` to `KINDS`; its material loader is named by a dotted path
and imported only when that kind is reviewed (the explanation loader lives with the
multi-task code it reads, so `cetd_lib.review` does not import it for a requirements review).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # cetd_lib.params sits above review; only the annotation needs it
    from cetd_lib.params import Params


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ReviewKind:
    """One kind of side-by-side review."""

    name: str
    criteria: tuple[str, ...]  # rubric order: also the digit order of the quick-entry answer
    criteria_help: Mapping[str, str]  # criterion -> the 1-5 anchor shown as a tooltip / text
    side_titles: tuple[str, str]  # headings of the left and right side
    preference_labels: tuple[str, str, str]  # buttons for left, tie, right
    context_title: str  # the collapsed pane holding what the sides describe
    subject: str  # what one item is about, for headers ("app", "finding")
    empty_side: str  # shown when a side has no lines
    rationale_hint: str  # placeholder of the rationale box
    answer_example: str  # the rationale of the text form's example answer
    numbered: bool = True  # a side is a numbered list (requirements) or a paragraph
    session_prefix: str = ""  # keeps session ids of different kinds apart
    fixed_sources: tuple[str, str] | None = None  # sources the loader always produces
    loader: str = ""  # "module:function(params) -> ReviewMaterial"
    verdict: str = ""  # "module:function(ratings, params, origin) -> dict", a headline figure
    preference_words: Mapping[str, str] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        if set(self.criteria_help) != set(self.criteria):
            raise ValueError(f"review kind {self.name!r}: criteria_help must cover {self.criteria}")

    def load(self, what: str) -> Callable[..., Any] | None:
        """Import the function named by the `loader` or `verdict` field (None when unset)."""
        path = getattr(self, what)
        if not path:
            return None
        module, _, name = path.partition(":")
        return getattr(importlib.import_module(module), name)


REQUIREMENTS = ReviewKind(
    name="requirements",
    criteria=("accuracy", "completeness", "clarity", "rebuildability"),
    criteria_help=_frozen(
        {
            "accuracy": "every item is true of the code (1: mostly wrong ... 5: all correct)",
            "completeness": "the behaviour the tests check is all there (1: little ... 5: all)",
            "clarity": "each item is unambiguous and readable (1: confusing ... 5: crisp)",
            "rebuildability": "a developer could rebuild the app from this list alone (1 ... 5)",
        }
    ),
    side_titles=("Left requirements", "Right requirements"),
    preference_labels=("◀ Left better", "Tie", "Right better ▶"),
    context_title="Code",
    subject="app",
    empty_side="(no requirements)",
    rationale_hint="Why? (what one list gets right or wrong)",
    answer_example="the right list misses the error cases",
    loader="cetd_lib.review.items:load_requirements_material",
)

EXPLANATION = ReviewKind(
    name="explanation",
    criteria=("correctness", "clarity", "helpfulness"),
    criteria_help=_frozen(
        {
            "correctness": "true of the code and the finding (1: wrong, invented ... 5: all true)",
            "clarity": "readable and to the point (1: confusing ... 5: crisp)",
            "helpfulness": "a developer knows what to fix and why (1: no idea ... 5: clear fix)",
        }
    ),
    side_titles=("Explanation A (left)", "Explanation B (right)"),
    preference_labels=("◀ A better", "Tie", "B better ▶"),
    context_title="Code and finding",
    subject="finding",
    empty_side="(no explanation)",
    rationale_hint="Why? (what one explanation gets right or wrong)",
    answer_example="B names the wrong line",
    numbered=False,
    session_prefix="explanation-",
    fixed_sources=("model", "reference"),
    loader="cetd_lib.multitask.evaluation.explanation_review:load_explanation_material",
    verdict="cetd_lib.multitask.evaluation.explanation_review:review_verdict",
    preference_words=_frozen({"a": "left", "b": "right"}),
)

KINDS: dict[str, ReviewKind] = {kind.name: kind for kind in (REQUIREMENTS, EXPLANATION)}


def review_kind(kind: str | ReviewKind) -> ReviewKind:
    """The registered kind of that name (a `ReviewKind` is returned as is)."""
    if isinstance(kind, ReviewKind):
        return kind
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown review kind {kind!r}{hint}; known kinds: {sorted(KINDS)}")
    return KINDS[kind]


def verdict(
    kind: str | ReviewKind, ratings: Sequence[Any], params: Params, origin: str
) -> dict[str, Any] | None:
    """The headline figure a kind reports against a target (e.g. the explanation rating vs
    the multi-task seed target), or None for kinds without one (requirements)."""
    compute = review_kind(kind).load("verdict")
    return compute(ratings, params, origin) if compute else None


def verdict_text(row: Mapping[str, Any]) -> str:
    """One line for a `verdict` row: '<what>: <value> (n=…) vs target > <target>: <status>'."""
    value = "—" if row.get("value") is None else f"{row['value']:.3f}"
    count = f" (n={row['n']})" if "n" in row else ""
    line = f"{row['what']}: {value}{count} vs target > {row['target']:g}: {row['status']}"
    return f"{line}; {row['how']}" if row.get("how") else line
