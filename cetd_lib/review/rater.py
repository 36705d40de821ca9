"""A rater's view of a review session: blinded items, answers saved at once, resume.

Everything a rater sees goes through `BlindItem` and `Answer`, which carry no source names;
the left/right map stays in the store. The widget and the plain-text form both drive this.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from cetd_lib.review.config import ReviewConfig
from cetd_lib.review.items import ReviewMaterial, plan_session
from cetd_lib.review.kinds import REQUIREMENTS, ReviewKind, review_kind
from cetd_lib.review.store import InvalidRatingError, Rating, ReviewStore

FINISHED = ("submitted", "skipped")


@dataclass(frozen=True)
class BlindItem:
    """One item as the rater sees it: the app (or finding), its context and two anonymous
    sides (requirement lists, or explanations), labelled by the session's kind."""

    item_id: str
    position: int
    app_id: str
    code: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    kind: str = REQUIREMENTS.name


@dataclass(frozen=True)
class Answer:
    """A rater's stored answer as the rater sees it (by side, no source names)."""

    scores: dict[str, dict[str, int]] = field(default_factory=dict)
    preference: str | None = None
    rationale: str = ""
    status: str = "draft"


class ReviewSession:
    """One rater on one session of a store."""

    def __init__(self, store: ReviewStore, session_id: str, rater: str):
        stored = store.items(session_id)
        if not stored:
            raise LookupError(f"{store.path}: no session {session_id!r}")
        self.store = store
        self.session_id = session_id
        self.rater = rater
        self.kind: ReviewKind = store.session_kind(session_id)
        self.items = [
            BlindItem(i.item_id, i.position, i.app_id, i.code, i.left, i.right, self.kind.name)
            for i in stored
        ]
        self._index = {item.item_id: n for n, item in enumerate(self.items)}

    @classmethod
    def start(
        cls, store: ReviewStore, material: ReviewMaterial, config: ReviewConfig
    ) -> ReviewSession:
        """Plan the session from `material` (stored the first time), then open it for
        `config.rater`; reopening the same params resumes it."""
        if material.kind != config.kind:
            raise ValueError(
                f"the material is for the {material.kind} review but review.kind="
                f"{config.kind!r}; set review.kind={material.kind}"
            )
        session_id, items = plan_session(material, config)
        store.create_session(
            session_id,
            seed=config.seed,
            sources=material.sources,
            origin=material.origin,
            items=items,
            kind=material.kind,
        )
        return cls(store, session_id, config.rater)

    # -- reading -------------------------------------------------------------------------------
    def item(self, item_id: str) -> BlindItem:
        return self.items[self._index[item_id]]

    def answer(self, item_id: str) -> Answer | None:
        found = self.store.ratings(self.session_id, self.rater, item_id=item_id)
        return _blind(found[0]) if found else None

    def statuses(self) -> dict[str, str]:
        """item_id -> 'todo', 'draft', 'submitted' or 'skipped' for this rater."""
        done = {r.item_id: r.status for r in self.store.ratings(self.session_id, self.rater)}
        return {item.item_id: done.get(item.item_id, "todo") for item in self.items}

    def progress(self) -> tuple[int, int]:
        """(finished, total): submitted or skipped items of this rater."""
        statuses = self.statuses().values()
        return sum(s in FINISHED for s in statuses), len(self.items)

    def resume_index(self) -> int:
        """Where the rater stopped: the first item not yet submitted or skipped (the last item
        when every one is finished)."""
        statuses = self.statuses()
        for n, item in enumerate(self.items):
            if statuses[item.item_id] not in FINISHED:
                return n
        return len(self.items) - 1

    def describe(self) -> str:
        done, total = self.progress()
        return f"session {self.session_id}, rater {self.rater!r}: {done} of {total} done"

    # -- writing (each call is one committed transaction) ------------------------------------
    def submit(
        self,
        item_id: str,
        scores: dict[str, dict[str, int]],
        preference: str,
        rationale: str = "",
    ) -> Answer:
        return self._save(item_id, scores, preference, rationale, "submitted")

    def save_draft(
        self,
        item_id: str,
        scores: dict[str, dict[str, int]],
        preference: str | None = None,
        rationale: str = "",
    ) -> Answer:
        return self._save(item_id, scores, preference, rationale, "draft")

    def skip(self, item_id: str, rationale: str = "") -> Answer:
        return self._save(item_id, {}, None, rationale, "skipped")

    def submit_text(self, item_id: str, text: str) -> Answer:
        """Submit an answer typed in the plain-text form, e.g. '4534 | 3425 | L | why'."""
        scores, preference, rationale = parse_answer(text, self.kind)
        return self.submit(item_id, scores, preference, rationale)

    def _save(self, item_id, scores, preference, rationale, status) -> Answer:
        if item_id not in self._index:
            raise InvalidRatingError(f"no item {item_id!r} in session {self.session_id!r}")
        rating = self.store.save_rating(
            self.session_id,
            self.rater,
            item_id,
            scores=scores,
            preference=preference,
            rationale=rationale,
            status=status,
        )
        return _blind(rating)


def _blind(rating: Rating) -> Answer:
    return Answer(rating.scores, rating.preference, rating.rationale, rating.status)


# ---------------------------------------------------------------------------------------------
# Plain-text form: for consoles and front ends where widgets do not render
# ---------------------------------------------------------------------------------------------

_PREFERENCE_WORDS = {
    "l": "left",
    "left": "left",
    "r": "right",
    "right": "right",
    "t": "tie",
    "tie": "tie",
    "=": "tie",
}


_NUMBER_WORDS = {3: "three", 4: "four", 5: "five", 6: "six"}


def example_answer(kind: str | ReviewKind = REQUIREMENTS) -> str:
    """A well-formed quick-entry answer for `kind`, e.g. '4534 | 3425 | L | why'."""
    n = len(review_kind(kind).criteria)
    return f"{'4534'[:n].ljust(n, '4')} | {'3425'[:n].ljust(n, '3')} | L | why"


def parse_answer(
    text: str, kind: str | ReviewKind = REQUIREMENTS
) -> tuple[dict[str, dict[str, int]], str, str]:
    """'4 5 3 4 | 3 4 2 5 | L | rationale' -> (scores by side, preference, rationale).

    The first two fields are the left and right scores in the rubric order of `kind`
    (requirements: accuracy, completeness, clarity, rebuildability; explanation: correctness,
    clarity, helpfulness), digits 1-5 with or without spaces; the third is L(eft), R(ight) or
    T(ie) (plus the kind's own words, e.g. A/B); the rest, which may contain '|', is the
    rationale (optional).
    """
    kind = review_kind(kind)
    criteria, n = kind.criteria, len(kind.criteria)
    example = example_answer(kind)
    parts = [p.strip() for p in text.split("|", 3)]
    if len(parts) < 3:
        raise InvalidRatingError(
            f"answer {text!r}: expected 'LEFT SCORES | RIGHT SCORES | L/R/T | rationale', "
            f"e.g. '{example.replace('why', 'left misses the error cases')}'"
        )
    scores = {}
    for side, field_text in zip(("left", "right"), parts[:2], strict=True):
        digits = re.sub(r"[\s,]", "", field_text)
        if not re.fullmatch(rf"[1-5]{{{n}}}", digits):
            raise InvalidRatingError(
                f"{side} scores {field_text!r}: expected {_NUMBER_WORDS.get(n, n)} digits 1-5 "
                f"({', '.join(criteria)}), e.g. '{example.split(' |')[0]}'"
            )
        scores[side] = {c: int(d) for c, d in zip(criteria, digits, strict=True)}
    words = {**_PREFERENCE_WORDS, **kind.preference_words}
    preference = words.get(parts[2].lower())
    if preference is None:
        extra = "".join(f", {w.upper()}" for w in kind.preference_words)
        raise InvalidRatingError(f"preference {parts[2]!r}: expected L, R or T{extra}")
    return scores, preference, parts[3] if len(parts) > 3 else ""


def text_form(item: BlindItem, *, total: int | None = None, code_lines: int = 60) -> str:
    """The item as plain text, with the rubric and how to answer (`ReviewSession.submit_text`),
    in the words of the item's kind."""
    kind = review_kind(item.kind)

    def side(lines: tuple[str, ...]) -> str:
        if not lines:
            return f"   {kind.empty_side}"
        if not kind.numbered:
            return "\n".join(
                textwrap.fill(text, 96, initial_indent="   ", subsequent_indent="   ")
                for text in lines
            )
        return "\n".join(
            textwrap.fill(f"{n}. {text}", 96, initial_indent="   ", subsequent_indent="      ")
            for n, text in enumerate(lines, 1)
        )

    def heading(title: str) -> str:  # "Left requirements" -> "LEFT requirements"
        first, _, rest = title.partition(" ")
        return f"{first.upper()} {rest}".strip()

    code = item.code.splitlines()
    shown = "\n".join(code[:code_lines])
    if len(code) > code_lines:
        shown += f"\n... ({len(code) - code_lines} more lines: print(item.code) for all)"
    of = f" of {total}" if total else ""
    rubric = "\n".join(f"   {c}: {h}" for c, h in kind.criteria_help.items())
    n = len(kind.criteria)
    left_title, right_title = (heading(t) for t in kind.side_titles)
    example = example_answer(kind).replace("why", kind.answer_example)
    return (
        f"Item {item.position + 1}{of} (id {item.item_id!r}), {kind.subject} {item.app_id}\n\n"
        f"--- {kind.context_title.lower()} ---\n{shown}\n\n"
        f"--- {left_title} ---\n{side(item.left)}\n\n"
        f"--- {right_title} ---\n{side(item.right)}\n\n"
        f"Rubric, 1-5 per side:\n{rubric}\n\n"
        f"Answer: session.submit_text({item.item_id!r}, "
        f"'LEFT {n} digits | RIGHT {n} digits | L/R/T | rationale')\n"
        f"   e.g. '{example}'; "
        f"or session.skip({item.item_id!r})"
    )
